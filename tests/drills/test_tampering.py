"""Drill 4, tampering: the database refuses the service's own role every way around the history, and
what the owner does around the triggers is named by `flask --app web audit verify`, case and seq.

On PostgreSQL the drill runs as in production: a schema owned by `workflow_owner`, which runs the
migrations, and the service as `workflow_app`, granted by them only what it needs (both roles are made
if missing, by the drill database's superuser: tests/pg_roles.py). On SQLite, which has no roles, the
triggers are dropped instead.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.exc import DBAPIError

from web import create_app
from web.extensions import db
from workflow.appraisal import set_staff
from workflow.definitions import shipped_files
from workflow.engine import Actor, advance, open_case, publish_definition
from workflow.engine.history import compute_hash
from workflow.engine.users import create_user
from workflow.models import Case, HistoryEntry

from ..helpers import SELF_LOOP, minimal_text, publish_minimal
from ..pg_roles import ensure_roles
from .harness import FLASK, ROOT, postgres_url

pytestmark = pytest.mark.drill
CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))
LI, ZHANG = Actor("li", frozenset({"supervisor"})), Actor("zhang", frozenset({"employee"}))
AUDIT_KEY = "drill-" + uuid.uuid4().hex  # outside the database, as in production
HISTORY = "SELECT id, case_id, seq, kind, at, actor, action, from_state, to_state, inputs, comment, prev_hash, hash " \
          "FROM history ORDER BY id"


@dataclass
class Roles:
    """One drill schema reached as the service (`app`) and as the tables' owner (`owner`)."""

    app_url: str
    owner_url: str
    app: sa.Engine
    owner: sa.Engine


def in_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


@pytest.fixture
def roles() -> Iterator[Roles]:
    owner_base, app_base = ensure_roles(postgres_url())
    schema = f"drill_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(owner_base, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:  # owned by workflow_owner: the owner of everything the migrations make
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    found = Roles(in_schema(app_base, schema), in_schema(owner_base, schema),
                  sa.create_engine(in_schema(app_base, schema)), sa.create_engine(in_schema(owner_base, schema)))
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": found.app_url, "MIGRATION_DATABASE_URL": found.owner_url})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield found
    finally:
        found.app.dispose()
        found.owner.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --- making cases, as the service ------------------------------------------------------------------


def closed_cases(url: str, count: int = 3) -> list[int]:
    """`count` minimal cases, each created, submitted and approved: three history rows apiece."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    clock = app.extensions["workflow_clock"]
    with app.app_context():
        if url.startswith("sqlite"):
            upgrade()
        publish_minimal(clock, minimal_text(**{"  - name: approve\n": SELF_LOOP}))
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


def looped_case(url: str) -> int:
    """A minimal case submitted, then re-prioritised to what it was: its last move is a self-loop."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    clock = app.extensions["workflow_clock"]
    with app.app_context():
        case = open_case(db.session, clock, "minimal", {"amount": "7"}, CLERK)
        advance(db.session, clock, case, "submit", CLERK, {"priority": "urgent"})
        advance(db.session, clock, case, "reprioritise", CLERK, {"priority": "urgent"})
        db.session.commit()
        case_id = case.id
        db.session.remove()
        db.engine.dispose()
    return case_id


def scored_sheet(url: str) -> int:
    """zhang's appraisal sheet for November, scored 72 by li and awaiting the department head: six rows."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    clock = app.extensions["workflow_clock"]
    with app.app_context():
        path = next(f for f in shipped_files() if f.stem == "appraisal")
        publish_definition(db.session, path.read_text("utf-8"), str(path), "drill", clock.now(), "appraisal")
        for actor in (LI, ZHANG):
            create_user(db.session, actor.name, sorted(actor.roles), clock.now())
        set_staff(db.session, ZHANG.name, "After-sales service", "field_service", Decimal("1500"), LI.name)
        case = open_case(db.session, clock, "appraisal", {
            "employee": ZHANG.name, "supervisor": LI.name, "department": "After-sales service", "period": "2026-11",
            "template": "field_service"}, LI)
        for actor, action, inputs in (
            (LI, "agree_goals", {"goals": "Repairs within 7 days"}), (ZHANG, "sign_agreement", {}),
            (LI, "countersign_agreement", {}), (ZHANG, "self_report", {"work_summary": "31 visits"}),
            (LI, "score", {"sheet": {"occurrences": {"left_post": 1, "phone_off_occasionally": 1}}}),
        ):
            advance(db.session, clock, case, action, actor, inputs)
        db.session.commit()
        assert case.data["total_score"] == "72"
        case_id = case.id
        db.session.remove()
        db.engine.dispose()
    return case_id


# --- checking, as an operator would ------------------------------------------------------------------


def audit(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "AUDIT_KEY": AUDIT_KEY}
    env.pop("AUDIT_KEY_FILE", None)
    return subprocess.run([*FLASK, "audit", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def named(result: subprocess.CompletedProcess[str]) -> dict[int, int]:
    """case -> the first seq `audit verify` names for it (BROKEN: case 4, seq 2: ...)."""
    found: dict[int, int] = {}
    for line in result.stdout.splitlines():
        if line.startswith("BROKEN: "):
            case_id, seq = line.removeprefix("BROKEN: case ").split(":")[0].split(", seq ")
            found[int(case_id)] = min(found.get(int(case_id), int(seq)), int(seq))
    return found


def history(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(HISTORY))]


# --- the service's role: refused every way -----------------------------------------------------------

AROUND_THE_TRIGGERS = [
    ("TRUNCATE history", "permission denied for table history"),
    ("TRUNCATE cases CASCADE", "permission denied for table cases"),
    ("ALTER TABLE history DISABLE TRIGGER USER", "must be owner of table history"),
    ("ALTER TABLE history DISABLE TRIGGER history_no_update", "must be owner of table history"),
    ("DROP TRIGGER history_no_delete ON history", "must be owner of relation history"),
    ("SET session_replication_role = replica", 'permission denied to set parameter "session_replication_role"'),
    ("SET LOCAL session_replication_role = replica", 'permission denied to set parameter "session_replication_role"'),
    ("SET ROLE workflow_owner", 'permission denied to set role "workflow_owner"'),
    ("ALTER TABLE history OWNER TO workflow_app", "must be owner of table history"),
    ("DROP TABLE history CASCADE", "must be owner of table history"),
    ("CREATE TABLE history_copy AS SELECT * FROM history", "permission denied for schema"),
    ("UPDATE history SET comment = 'rewritten' WHERE seq = 2", "permission denied for table history"),
    ("DELETE FROM history WHERE seq = 3", "permission denied for table history"),
    ("UPDATE workflow_versions SET source = ''", "permission denied for table workflow_versions"),
    ("DELETE FROM workflow_versions", "permission denied for table workflow_versions"),
]
OWNER_MEETS_THE_TRIGGERS = [
    "TRUNCATE history",
    "TRUNCATE cases CASCADE",
    "UPDATE history SET comment = 'rewritten' WHERE case_id = :case AND seq = 2",
    "UPDATE history SET to_state = 'rejected', hash = repeat('0', 64) WHERE case_id = :case AND seq = 3",
    "UPDATE history SET seq = seq + 10 WHERE case_id = :case",
    "DELETE FROM history WHERE case_id = :case AND seq = 3",
    "DELETE FROM history WHERE case_id = :case",
]


def test_postgresql_refuses_the_service_every_way_around_the_history(roles: Roles) -> None:
    victim = closed_cases(roles.app_url)[1]
    before = history(roles.owner)
    with roles.app.connect() as conn:
        assert conn.scalar(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) is False
    for sql, refusal in AROUND_THE_TRIGGERS:
        with pytest.raises(DBAPIError, match=refusal):
            with roles.app.begin() as conn:
                conn.execute(sa.text(sql), {"case": victim})
        assert history(roles.owner) == before, sql
    for sql in OWNER_MEETS_THE_TRIGGERS:  # the owner may get around them, but never by slip
        with pytest.raises(DBAPIError, match="history is append-only"):
            with roles.owner.begin() as conn:
                conn.execute(sa.text(sql), {"case": victim})
        assert history(roles.owner) == before, sql
    result = audit(roles.app_url, "verify")
    assert result.returncode == 0 and "OK: 3 case histories verified" in result.stdout, result


# --- the owner around the triggers: named by audit verify ---------------------------------------------

PLANTED = [
    # (what the owner does around the triggers, the seq audit verify names first)
    ("UPDATE history SET comment = 'approved by phone' WHERE case_id = :case AND seq = 2", 2),
    ("UPDATE history SET inputs = '{\"priority\": \"normal\"}' WHERE case_id = :case AND seq = 2", 2),
    ("UPDATE history SET actor = 'mallory' WHERE case_id = :case AND seq = 3", 3),
    # the altered row's own hash recomputed: the next row's prev_hash gives it away
    ("UPDATE history SET comment = NULL, hash = :forged WHERE case_id = :case AND seq = 2", 3),
    ("DELETE FROM history WHERE case_id = :case AND seq = 2", 2),
    # the last move removed: the chain is shorter but whole; the case's state and lock_version disagree
    ("DELETE FROM history WHERE case_id = :case AND seq = 3", 2),
    # the case row itself: its data no longer what its moves give
    (RAISE_AMOUNT := "cases.data: the amount raised", 3),
]


def plant(conn: sa.Connection, sql: str, case_id: int) -> None:
    row = conn.execute(sa.select(HistoryEntry.__table__).where(
        HistoryEntry.case_id == case_id, HistoryEntry.seq == 2)).one()
    if sql == RAISE_AMOUNT:
        edit_data(conn, case_id, amount="99999")
        return
    params: dict[str, object] = {"case": case_id}
    if ":forged" in sql:
        params["forged"] = compute_hash(row.prev_hash, HistoryEntry(**{**row._mapping, "comment": None}))
    conn.execute(sa.text(sql), params)


def edit_data(conn: sa.Connection, case_id: int, **changes: object) -> None:
    data = conn.scalar(sa.select(Case.data).where(Case.id == case_id))
    conn.execute(sa.update(Case.__table__).where(Case.id == case_id).values(data={**data, **changes}))


def triggers_off(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER USER"))
    else:
        conn.execute(sa.text("DROP TRIGGER history_no_update"))
        conn.execute(sa.text("DROP TRIGGER history_no_delete"))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_each_alteration_is_named_by_audit_verify(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> None:
    if kind == "sqlite":
        app_url = f"sqlite:///{tmp_path / 'tampered.db'}"
        owner = app = sa.create_engine(app_url)
    else:
        found: Roles = request.getfixturevalue("roles")
        app_url, owner, app = found.app_url, found.owner, found.app
    ids = closed_cases(app_url, 2 * len(PLANTED) + 1)
    loop, sheet = looped_case(app_url), scored_sheet(app_url)
    victims = {case_id: seq for case_id, (_, seq) in zip(ids[1::2], PLANTED, strict=True)}  # untouched between
    with pytest.raises(DBAPIError, match="append-only|permission denied"):  # the service cannot, on either
        with app.begin() as conn:
            conn.execute(sa.text("UPDATE history SET comment = 'x' WHERE case_id = :case"), {"case": ids[1]})
    assert audit(app_url, "verify").returncode == 0
    with owner.begin() as conn:
        triggers_off(conn)
        for case_id, (sql, _) in zip(victims, PLANTED, strict=True):
            plant(conn, sql, case_id)
        # The self-loop's last row: state, chain and data all still agree; only lock_version counts it.
        conn.execute(sa.text("DELETE FROM history WHERE case_id = :case AND seq = 3"), {"case": loop})
        edit_data(conn, sheet, total_score="98")  # 72 → 98, and nothing in its history says so
        if kind == "postgresql":
            conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER USER"))
    victims |= {loop: 3, sheet: 6}
    owner.dispose()
    app.dispose()
    result = audit(app_url, "verify")
    assert result.returncode == 1, result
    assert named(result) == victims, result.stdout
    assert f"case {loop}, seq 3: the case's lock_version is 3 but its history holds 2 moves" in result.stdout
    assert f"case {sheet}, seq 6: cases.data field 'total_score' is \"98\", its history gives \"72\"" \
        in result.stdout
    first = min(victims)
    assert f"first break at case {first}, seq {victims[first]}" in result.stderr, result


# --- a rewrite with the chain recomputed: named by the checkpoint ---------------------------------------


def rewrite_with_chain(conn: sa.Connection, case_id: int, seq: int, **changes: object) -> None:
    """Change one row and recompute every hash from it on, so that the chain holds again."""
    table = HistoryEntry.__table__
    prev = None
    for row in conn.execute(sa.select(table).where(table.c.case_id == case_id).order_by(table.c.seq)).all():
        values = dict(row._mapping)
        values.update(changes if row.seq == seq else {})
        values["prev_hash"] = prev or values["prev_hash"]
        if row.seq >= seq:
            values["hash"] = compute_hash(values["prev_hash"], HistoryEntry(**values))
            conn.execute(sa.update(table).where(table.c.id == row.id).values(
                prev_hash=values["prev_hash"], hash=values["hash"], **changes if row.seq == seq else {}))
        prev = values["hash"]
    # ... and moves the chain head kept on the case row to match, or verify would name the case.
    conn.execute(sa.update(Case.__table__).where(Case.__table__.c.id == case_id).values(last_hash=prev))


def test_a_rewrite_with_the_chain_recomputed_is_named_by_the_checkpoint(roles: Roles, tmp_path: Path) -> None:
    rewritten, vanished, *_ = closed_cases(roles.app_url, 4)
    out = tmp_path / "heads.json"
    made = audit(roles.app_url, "checkpoint", "--out", str(out))
    assert made.returncode == 0 and out.exists(), made
    with roles.owner.begin() as conn:
        triggers_off(conn)
        rewrite_with_chain(conn, rewritten, 2, comment="approved by phone", actor="mallory")
        for table in ("history", "timers", "notifications"):  # a whole case gone, rows and all
            conn.execute(sa.text(f"DELETE FROM {table} WHERE case_id = :case"), {"case": vanished})
        conn.execute(sa.text("DELETE FROM cases WHERE id = :case"), {"case": vanished})
        conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER USER"))
    plain = audit(roles.app_url, "verify")
    assert plain.returncode == 0 and "OK: 3 case histories verified" in plain.stdout, plain  # the chain holds
    result = audit(roles.app_url, "verify", "--checkpoint", str(out))
    assert result.returncode == 1, result
    assert named(result) == {rewritten: 3, vanished: 3}, result.stdout
    assert f"case {rewritten}, seq 3: the history up to this row was rewritten since the checkpoint" in result.stdout
    assert f"case {vanished}, seq 3: the case has vanished since the checkpoint" in result.stdout
    # A checkpoint file changed to match is refused: it is signed under a key the database never held.
    forged = out.read_text().replace(next(line for line in out.read_text().splitlines() if '"at"' in line),
                                     '"at": "2027-01-01T00:00:00.000000Z",')
    out.write_text(forged)
    refused = audit(roles.app_url, "verify", "--checkpoint", str(out))
    assert refused.returncode == 1 and "signature does not hold" in refused.stderr, refused
