"""Drill 4, tampering: PostgreSQL's triggers refuse to change or remove a history row, and a row
altered around them (triggers dropped on SQLite, disabled on PostgreSQL) is named by
`flask --app web audit verify`, case and seq."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.exc import DBAPIError

from web import create_app
from web.extensions import db
from workflow.engine import Actor, advance, open_case

from ..helpers import publish_minimal
from .harness import FLASK, ROOT, Database

pytestmark = pytest.mark.drill
CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))
HISTORY = "SELECT id, case_id, seq, kind, at, actor, action, from_state, to_state, inputs, comment, prev_hash, hash " \
          "FROM history ORDER BY id"


def closed_cases(url: str, count: int = 3) -> list[int]:
    """`count` minimal cases, each created, submitted and approved: three history rows apiece."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    clock = app.extensions["workflow_clock"]
    with app.app_context():
        if url.startswith("sqlite"):
            upgrade()
        publish_minimal(clock)
        ids = []
        for i in range(count):
            case = open_case(db.session, clock, "minimal", {"amount": f"{100 + i}"}, CLERK, comment="new")
            advance(db.session, clock, case, "submit", CLERK, {"priority": "urgent"}, "please")
            advance(db.session, clock, case, "approve", MANAGER, {}, "ok")
            ids.append(case.id)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return ids


def audit_verify(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLASK, "audit", "verify"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
                          capture_output=True, text=True, timeout=120, check=False)


def history(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(HISTORY))]


REFUSED = [
    "UPDATE history SET comment = 'rewritten' WHERE case_id = :case AND seq = 2",
    "UPDATE history SET to_state = 'rejected', hash = repeat('0', 64) WHERE case_id = :case AND seq = 3",
    "UPDATE history SET seq = seq + 10 WHERE case_id = :case",
    "DELETE FROM history WHERE case_id = :case AND seq = 3",
    "DELETE FROM history WHERE case_id = :case",
]


def test_postgresql_refuses_to_change_or_remove_a_history_row(pg: Database) -> None:
    victim = closed_cases(pg.url)[1]
    before = history(pg.engine)
    for sql in REFUSED:
        with pytest.raises(DBAPIError, match="history is append-only"):
            with pg.engine.begin() as conn:
                conn.execute(sa.text(sql), {"case": victim})
        assert history(pg.engine) == before, sql
    result = audit_verify(pg.url)
    assert result.returncode == 0 and "OK: 3 case histories verified" in result.stdout, result


PLANTED = [
    # (what someone with the database owner's rights does around the triggers, the seq audit verify names)
    ("UPDATE history SET comment = 'approved by phone' WHERE case_id = :case AND seq = 2", 2),
    ("UPDATE history SET inputs = '{\"priority\": \"normal\"}' WHERE case_id = :case AND seq = 2", 2),
    ("UPDATE history SET actor = 'mallory' WHERE case_id = :case AND seq = 3", 3),
    # the altered row's own hash recomputed: the next row's prev_hash gives it away
    ("UPDATE history SET comment = NULL, hash = :forged WHERE case_id = :case AND seq = 2", 3),
    ("DELETE FROM history WHERE case_id = :case AND seq = 2", 2),
]


def plant(conn: sa.Connection, sql: str, case_id: int) -> None:
    from workflow.engine.history import compute_hash
    from workflow.models import HistoryEntry

    row = conn.execute(sa.select(HistoryEntry.__table__).where(
        HistoryEntry.case_id == case_id, HistoryEntry.seq == 2)).one()
    forged = compute_hash(row.prev_hash, HistoryEntry(**{**row._mapping, "comment": None}))
    conn.execute(sa.text(sql), {"case": case_id, **({"forged": forged} if ":forged" in sql else {})})


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_each_altered_row_is_named_by_audit_verify(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'tampered.db'}"
        engine = sa.create_engine(url)
    else:
        database = request.getfixturevalue("pg")
        url, engine = database.url, database.engine
    ids = closed_cases(url, 2 * len(PLANTED) + 1)
    victims = {case_id: seq for case_id, (_, seq) in zip(ids[1::2], PLANTED, strict=True)}  # untouched between
    with pytest.raises(DBAPIError, match="append-only"):  # the triggers are there, on both databases
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE history SET comment = 'x' WHERE case_id = :case"), {"case": ids[1]})
    assert audit_verify(url).returncode == 0
    with engine.begin() as conn:
        if kind == "postgresql":
            conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER history_no_update"))
            conn.execute(sa.text("DROP TRIGGER history_no_delete"))
        for case_id, (sql, _) in zip(victims, PLANTED, strict=True):
            plant(conn, sql, case_id)
        if kind == "postgresql":
            conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER USER"))
    engine.dispose()
    result = audit_verify(url)
    assert result.returncode == 1, result
    named = {}
    for line in result.stdout.splitlines():  # BROKEN: case 4, seq 2: the row's content does not match its hash
        if not line.startswith("BROKEN: "):
            continue
        case_id, seq = line.removeprefix("BROKEN: case ").split(":")[0].split(", seq ")
        named[int(case_id)] = int(seq)
    assert named == victims, result.stdout
    first = min(victims)
    assert f"first break at case {first}, seq {victims[first]}" in result.stderr, result
