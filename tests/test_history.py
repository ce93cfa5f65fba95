"""History: one append-only, hash-chained row per move; the database refuses to change it, and
`audit verify` finds what the owner changed around that.

Tampering is done the way someone holding the owner's rights would (`owner_engine`): the service's
own role (DATABASE_URL) may not even try on PostgreSQL.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from web.extensions import db
from workflow.engine import Actor, advance, open_case
from workflow.engine.history import GENESIS, compute_hash
from workflow.models import HistoryEntry

from .helpers import SELF_LOOP, minimal_text, publish_minimal

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


@pytest.fixture
def looped_case(app, clock, frozen_clock):
    """Submitted, then re-prioritised twice: its last two moves are self-loops."""
    publish_minimal(clock, minimal_text(**{"  - name: approve\n": SELF_LOOP}))
    case = open_case(db.session, clock, "minimal", {"amount": "80"}, CLERK)
    for action, inputs in (("submit", {}), ("reprioritise", {"priority": "urgent"}),
                           ("reprioritise", {"priority": "urgent"})):
        frozen_clock.advance(minutes=1)
        advance(db.session, clock, case, action, CLERK, inputs)
    db.session.commit()
    return case


def rows(case_id):
    query = sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id).order_by(HistoryEntry.seq)
    return db.session.scalars(query).all()


def bypass_append_only(owner_engine: sa.Engine, sql: str, params: dict) -> None:
    """Tamper the way the owner of the tables could: around the append-only triggers."""
    db.session.rollback()  # the test's own reads would hold up the owner's ALTER TABLE
    with owner_engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER USER"))
            conn.execute(sa.text(sql), params)
            conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER USER"))
        else:
            conn.execute(sa.text("DROP TRIGGER history_no_update"))
            conn.execute(sa.text("DROP TRIGGER history_no_delete"))
            conn.execute(sa.text(sql), params)


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


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


def test_audit_verify_passes_on_untouched_history(closed_case, looped_case, runner):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "OK: 2 case histories verified" in result.output


@pytest.mark.parametrize("sql", [
    "UPDATE history SET comment = 'rewritten' WHERE case_id = :case AND seq = 2",
    "UPDATE history SET actor = 'mallory' WHERE case_id = :case AND seq = 2",
    "UPDATE history SET at = at + INTERVAL '1 hour' WHERE case_id = :case AND seq = 2",
    "DELETE FROM history WHERE case_id = :case AND seq = 2",
])
def test_tampering_with_one_row_names_the_case_and_seq(closed_case, owner_engine, runner, sql):
    if owner_engine.dialect.name == "sqlite" and "INTERVAL" in sql:
        sql = "UPDATE history SET at = datetime(at, '+1 hour') WHERE case_id = :case AND seq = 2"
    bypass_append_only(owner_engine, sql, {"case": closed_case.id})
    result = verify(runner)
    assert result.exit_code == 1
    assert f"first break at case {closed_case.id}, seq 2" in result.output


def test_deleting_the_last_row_is_caught_by_the_state_and_the_lock_version(closed_case, owner_engine, runner):
    bypass_append_only(owner_engine, "DELETE FROM history WHERE case_id = :case AND seq = 3", {"case": closed_case.id})
    result = verify(runner)
    assert result.exit_code == 1
    broken = [line for line in result.output.splitlines() if line.startswith("BROKEN")]
    assert broken == [
        f"BROKEN: case {closed_case.id}, seq 2: the case's state differs from its last history row",
        f"BROKEN: case {closed_case.id}, seq 3: the case's lock_version is 3 but its history holds 2 moves",
    ]


def test_deleting_the_last_row_of_a_self_loop_is_caught_by_the_lock_version(looped_case, owner_engine, runner):
    assert looped_case.lock_version == 4 and looped_case.state == "submitted"
    bypass_append_only(owner_engine, "DELETE FROM history WHERE case_id = :case AND seq = 4", {"case": looped_case.id})
    result = verify(runner)
    assert result.exit_code == 1
    broken = [line for line in result.output.splitlines() if line.startswith("BROKEN")]
    # The state is the same and the deleted move re-set the priority it already had: only the count tells.
    assert broken == [f"BROKEN: case {looped_case.id}, seq 4: the case's lock_version is 4 but its history holds "
                      f"3 moves"]


def test_a_case_row_put_back_to_an_earlier_version_is_caught(looped_case, owner_engine, runner):
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET lock_version = 3 WHERE id = :case"), {"case": looped_case.id})
    result = verify(runner)
    assert result.exit_code == 1
    assert f"BROKEN: case {looped_case.id}, seq 4: the case's lock_version is 3 but its history holds 4 moves" \
        in result.output


@pytest.mark.parametrize("sql", [
    "UPDATE history SET comment = 'rewritten' WHERE seq = 2",
    "DELETE FROM history WHERE seq = 3",
])
@pytest.mark.parametrize("who", ["service", "owner"])
def test_the_database_refuses_to_change_history(closed_case, owner_engine, sql, who):
    engine = db.engine if who == "service" else owner_engine
    before = [(h.seq, h.comment, h.hash) for h in rows(closed_case.id)]
    # The owner meets the triggers; a least-privileged service role is refused before them.
    with pytest.raises(DBAPIError, match="append-only|permission denied"):
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    db.session.expire_all()
    assert [(h.seq, h.comment, h.hash) for h in rows(closed_case.id)] == before


def _postgresql_only(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE and no roles")


def test_truncate_of_history_is_refused_even_to_the_owner(closed_case, owner_engine):
    _postgresql_only(owner_engine)
    for statement in ("TRUNCATE history", "TRUNCATE cases CASCADE"):
        db.session.rollback()  # TRUNCATE waits for every reader before its trigger refuses
        with pytest.raises(DBAPIError, match="history is append-only: TRUNCATE refused"):
            with owner_engine.begin() as conn:
                conn.execute(sa.text(statement))
        assert len(rows(closed_case.id)) == 3


def _service_role_is_not_the_owner(owner_engine: sa.Engine) -> None:
    _postgresql_only(owner_engine)
    with db.engine.connect() as conn, owner_engine.connect() as owner:
        if conn.scalar(sa.text("SELECT current_user")) == owner.scalar(sa.text("SELECT current_user")):
            pytest.skip("the service runs as the owner here (MIGRATION_DATABASE_URL unset); CI runs both roles")


def test_the_service_role_holds_only_what_the_service_needs(app, owner_engine):
    _service_role_is_not_the_owner(owner_engine)
    with db.engine.connect() as conn:
        rights = {
            (table, right): conn.scalar(sa.text("SELECT has_table_privilege(current_user, :t, :r)"),
                                        {"t": table, "r": right})
            for table in conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
            for right in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
        }
        role = conn.execute(sa.text("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                                    "WHERE rolname = current_user")).one()
        owns = conn.scalar(sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                                   "AND tableowner = current_user"))
    assert tuple(role) == (False, False, False, False) and owns == 0
    tables = {table for table, _ in rights}
    assert {"cases", "history", "workflow_versions", "timers", "alembic_version"} <= tables
    # Every table of every migration, later ones included, is covered by the same rule.
    for table in tables:
        granted = {right for (t, right), held in rights.items() if t == table and held}
        if table == "alembic_version":
            assert granted == {"SELECT"}  # read by /readyz, written by the migrations only
        elif table in ("history", "workflow_versions", "audit_runs", "audit_access",
                       "scoresheet_versions"):  # append-only
            assert granted == {"SELECT", "INSERT"}, table
        else:
            assert granted == {"SELECT", "INSERT", "UPDATE", "DELETE"}, table


@pytest.mark.parametrize("statement, refusal", [
    ("TRUNCATE history", "permission denied"),
    ("ALTER TABLE history DISABLE TRIGGER USER", "must be owner"),
    ("SET session_replication_role = replica", "permission denied"),
    ("DROP TRIGGER history_no_update ON history", "must be owner"),
    ("UPDATE history SET comment = 'x'", "permission denied"),
    ("DELETE FROM history", "permission denied"),
    ("UPDATE workflow_versions SET source = 'x'", "permission denied"),
    ("CREATE TABLE shadow (id int)", "permission denied"),
])
def test_the_service_role_cannot_get_around_the_triggers(closed_case, owner_engine, statement, refusal):
    _service_role_is_not_the_owner(owner_engine)
    with pytest.raises(DBAPIError, match=refusal):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert len(rows(closed_case.id)) == 3
