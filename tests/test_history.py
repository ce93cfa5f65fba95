"""History: one append-only, hash-chained row per move; `audit verify` finds any tampering."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from web.extensions import db
from workflow.engine import Actor, advance, open_case
from workflow.engine.history import GENESIS, compute_hash
from workflow.models import HistoryEntry

from .helpers import publish_minimal

CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))


@pytest.fixture
def closed_case(app, clock, frozen_clock):
    publish_minimal(clock)
    case = open_case(db.session, clock, "minimal", {"amount": "120.50"}, CLERK, comment="new")
    frozen_clock.advance(minutes=5)
    advance(db.session, clock, case, "submit", CLERK, {"priority": "urgent"}, "please")
    frozen_clock.advance(hours=2)
    advance(db.session, clock, case, "approve", MANAGER, {}, "ok")
    db.session.commit()
    return case


def rows(case_id):
    query = sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id).order_by(HistoryEntry.seq)
    return db.session.scalars(query).all()


def bypass_append_only(sql: str, params: dict) -> None:
    """Tamper the way an attacker with database access would: around the append-only triggers."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER USER"))
            conn.execute(sa.text(sql), params)
            conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER history_no_update"))
            conn.execute(sa.text("DROP TRIGGER history_no_delete"))
            conn.execute(sa.text(sql), params)


def test_creation_is_row_one_and_every_move_chains_to_the_previous(closed_case):
    history = rows(closed_case.id)
    assert [(h.seq, h.action, h.from_state, h.to_state, h.actor) for h in history] == [
        (1, "create", None, "draft", "carol"),
        (2, "submit", "draft", "submitted", "carol"),
        (3, "approve", "submitted", "approved", "mike"),
    ]
    assert history[0].inputs == {"amount": "120.50", "priority": "normal"}
    assert history[1].inputs == {"priority": "urgent"} and history[1].comment == "please"
    prev = GENESIS
    for h in history:
        assert h.prev_hash == prev
        assert h.hash == compute_hash(prev, h) and len(h.hash) == 64
        prev = h.hash


def test_audit_verify_passes_on_untouched_history(closed_case, runner):
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "OK: 1 case histories verified" in result.output


@pytest.mark.parametrize("sql", [
    "UPDATE history SET comment = 'rewritten' WHERE case_id = :case AND seq = 2",
    "UPDATE history SET actor = 'mallory' WHERE case_id = :case AND seq = 2",
    "UPDATE history SET at = at + INTERVAL '1 hour' WHERE case_id = :case AND seq = 2",
    "DELETE FROM history WHERE case_id = :case AND seq = 2",
])
def test_tampering_with_one_row_names_the_case_and_seq(closed_case, runner, sql):
    if db.engine.dialect.name == "sqlite" and "INTERVAL" in sql:
        sql = "UPDATE history SET at = datetime(at, '+1 hour') WHERE case_id = :case AND seq = 2"
    other = closed_case.id
    bypass_append_only(sql, {"case": other})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"first break at case {other}, seq 2" in result.output


def test_deleting_the_last_row_is_caught_by_the_state(closed_case, runner):
    bypass_append_only("DELETE FROM history WHERE case_id = :case AND seq = 3", {"case": closed_case.id})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"case {closed_case.id}, seq 2: the case's state differs from its last history row" in result.output


@pytest.mark.parametrize("sql", [
    "UPDATE history SET comment = 'rewritten' WHERE seq = 2",
    "DELETE FROM history WHERE seq = 3",
])
def test_the_database_refuses_to_change_history(closed_case, sql):
    before = [(h.seq, h.comment, h.hash) for h in rows(closed_case.id)]
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(sql))
    db.session.expire_all()
    assert [(h.seq, h.comment, h.hash) for h in rows(closed_case.id)] == before
