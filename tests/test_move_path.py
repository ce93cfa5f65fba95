"""The lean move path: a bounded number of statements per move, the chain head on the case row, the
session's Case kept current without a reload, and the machine's move table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from web import create_app
from web.extensions import db
from workflow.definitions import load_text, shipped_files
from workflow.engine import Actor, StaleCase, advance, audit, history, open_case, timers
from workflow.engine.machines import build_machine, move_table
from workflow.models import Case, HistoryEntry, Timer

from .helpers import publish_minimal
from .test_auth import empty_database  # noqa: F401  # a fixture: a database not yet migrated

CLERK = Actor("carol", frozenset({"clerk"}))
MANAGER = Actor("mike", frozenset({"manager"}))


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    """The SQL `engine` sends while the block runs."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def submitted(app, clock) -> int:
    publish_minimal(clock)
    case = open_case(db.session, clock, "minimal", {"amount": "100"}, CLERK)
    advance(db.session, clock, case, "submit", CLERK)  # starts the review timer
    db.session.commit()
    return case.id


def head(case_id: int) -> tuple[int, str, str | None]:
    row = db.session.execute(sa.select(Case.last_seq, Case.last_hash, Case.last_mover).where(Case.id == case_id))
    return tuple(row.one())  # type: ignore[return-value]


def last_row(case_id: int) -> HistoryEntry:
    found = history.last_entry(db.session, case_id)
    assert found is not None
    return found


def test_a_move_is_four_statements_and_none_reads_the_definition_text(submitted, clock):
    """Load the case, stop its timer, compare-and-set, append history: the definition comes from the cache."""
    with Session(db.engine) as session, statements(db.engine) as seen:
        case = session.get(Case, submitted)
        assert case is not None
        advance(session, clock, case, "reject", MANAGER, {"reason": "no budget"})
        session.commit()
    sql = [s for s in seen if s.lstrip().split()[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    assert len(sql) <= 4, sql
    assert not any("source" in s for s in sql), sql
    assert sum(s.lstrip().upper().startswith("SELECT") for s in sql) == 1, sql
    assert not any("FROM history" in s for s in sql), sql  # the chain head is on the case row


def test_a_move_that_starts_a_timer_inserts_it_without_reading_timers(app, clock):
    publish_minimal(clock)
    case_id = open_case(db.session, clock, "minimal", {"amount": "100"}, CLERK).id
    db.session.commit()
    with Session(db.engine) as session, statements(db.engine) as seen:
        case = session.get(Case, case_id)
        assert case is not None
        advance(session, clock, case, "submit", CLERK)
        session.commit()
    assert not any("FROM timers" in s or "UPDATE timers" in s for s in seen), seen  # none can run in draft
    assert sum("INSERT INTO timers" in s for s in seen) == 1, seen
    # Besides the case number (submit assigns it): load, compare-and-set, history, timer.
    move = [s for s in seen if "case_counters" not in s and "SAVEPOINT" not in s and s.strip() != "COMMIT"]
    assert len(move) == 4, move


def test_a_timer_collection_loaded_before_a_move_shows_the_timer_it_started(app, clock):
    publish_minimal(clock)
    case = open_case(db.session, clock, "minimal", {"amount": "100"}, CLERK)
    db.session.commit()
    assert case.timers == []
    advance(db.session, clock, case, "submit", CLERK)
    assert [(t.name, t.status) for t in case.timers] == [("review", "running")]


def test_the_session_s_case_is_current_after_a_move_without_a_reload(submitted, clock):
    with Session(db.engine) as session:
        case = session.get(Case, submitted)
        assert case is not None
        assert [t.status for t in case.timers] == ["running"]  # loaded before the move
        entry = advance(session, clock, case, "reject", MANAGER, {"reason": "no budget"})
        with statements(db.engine) as seen:
            now = (case.state, case.lock_version, case.data.get("reason"), case.last_seq, case.last_hash,
                   case.last_mover, entry.seq, entry.hash)
        assert seen == []
        assert now == ("rejected", 3, None, 3, entry.hash, "mike", 3, entry.hash)
        assert [t.status for t in case.timers] == ["stopped"]  # the collection is read again
        assert session.get(HistoryEntry, entry.id) is entry
        session.commit()
    assert head(submitted) == (3, last_row(submitted).hash, "mike")


def test_the_chain_head_follows_moves_and_notices(submitted, clock):
    case = db.session.get(Case, submitted)
    assert head(submitted) == (2, last_row(submitted).hash, "carol")
    history.append(db.session, case, at=clock.now(), actor="system", action="reminder", from_state=case.state,
                   to_state=case.state, inputs={}, comment=None, kind=history.NOTICE)
    db.session.commit()
    # A notice moves seq and hash, not the mover: four-eyes asks who put the case in its state.
    assert head(submitted) == (3, last_row(submitted).hash, "carol")
    assert case.lock_version == 2
    advance(db.session, clock, case, "reject", MANAGER, {"reason": "late"})
    db.session.commit()
    rows = db.session.scalars(sa.select(HistoryEntry).where(HistoryEntry.case_id == submitted)
                              .order_by(HistoryEntry.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4]
    assert history.verify_case(list(rows)) is None
    assert head(submitted) == (4, rows[-1].hash, "mike")


def test_an_append_that_loses_the_race_is_a_stale_case_and_leaves_no_gap(submitted, clock):
    """A notice committed by another transaction after this one read the case: same lock_version, but
    the chain moved on, so both a move and a notice from this one are refused as stale."""
    def notice(session: Session, case: Case) -> None:
        history.append(session, case, at=clock.now(), actor="system", action="reminder", from_state=case.state,
                       to_state=case.state, inputs={}, comment=None, kind=history.NOTICE)

    for loser in (lambda s, c: advance(s, clock, c, "reject", MANAGER, {"reason": "no"}), notice):
        with Session(db.engine) as mine, Session(db.engine) as theirs:
            case, other = mine.get(Case, submitted), theirs.get(Case, submitted)
            assert case is not None and other is not None
            notice(theirs, other)
            theirs.commit()
            with pytest.raises(StaleCase):
                loser(mine, case)
            mine.rollback()
    seqs = db.session.scalars(sa.select(HistoryEntry.seq).where(HistoryEntry.case_id == submitted)).all()
    assert sorted(seqs) == [1, 2, 3, 4]
    assert head(submitted)[0] == 4


def test_on_postgresql_a_moves_writes_and_its_answer_timers_travel_in_one_pipeline(submitted, clock, database):
    """The compare-and-set, the history row, the timer statements and the timers read for the answer are sent
    in psycopg's pipeline mode (one round trip for all); the case's load before them is not."""
    if database["kind"] != "postgresql":
        pytest.skip("pipeline mode is PostgreSQL's: SQLite runs each statement in this process, with no round trip")
    sent: list[tuple[str, bool]] = []

    def record(conn: sa.Connection, cursor: object, statement: str, *_: object) -> None:
        status = conn.connection.dbapi_connection.pgconn.pipeline_status  # type: ignore[union-attr]
        sent.append((" ".join(statement.split()[:3]), status != 0))

    with Session(db.engine) as session:
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            case = session.get(Case, submitted)
            assert case is not None
            advance(session, clock, case, "reject", MANAGER, {"reason": "no"}, with_timers=True)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        assert [t.status for t in case.timers] == ["stopped"]  # the answer's timers, as the move left them
        session.commit()
    assert sent[-4:] == [("UPDATE cases SET", True), ("INSERT INTO history", True), ("UPDATE timers SET", True),
                         ("SELECT timers.id, timers.case_id,", True)]
    assert not any(piped for _, piped in sent[:-4])
    assert head(submitted)[0] == 3


def test_a_move_that_loses_the_race_inside_its_pipeline_is_stale_and_writes_nothing(submitted, clock):
    """Its history row collides with the winner's (same seq) while its compare-and-set matched nothing: the
    collision is not the answer, the lost race is (409, never a 500)."""
    with Session(db.engine) as mine, Session(db.engine) as theirs:
        case, other = mine.get(Case, submitted), theirs.get(Case, submitted)
        assert case is not None and other is not None
        advance(theirs, clock, other, "reject", MANAGER, {"reason": "theirs"})
        theirs.commit()
        with pytest.raises(StaleCase):
            advance(mine, clock, case, "approve", MANAGER, {}, with_timers=True)
        mine.rollback()
    rows = db.session.execute(
        sa.select(HistoryEntry.seq, HistoryEntry.action).where(HistoryEntry.case_id == submitted)
        .order_by(HistoryEntry.seq)).all()
    assert [tuple(r) for r in rows][-1] == (3, "reject")
    assert head(submitted)[0] == 3


def test_a_stopped_timer_the_session_holds_is_updated_too(submitted, clock):
    with Session(db.engine) as session:
        timer = session.scalars(sa.select(Timer).where(Timer.case_id == submitted)).one()
        case = session.get(Case, submitted)
        assert case is not None and timer.status == "running"
        advance(session, clock, case, "reject", MANAGER, {"reason": "no"})
        assert (timer.status, timer.stopped_at, timer.next_action_at) == ("stopped", clock.now(), None)
        session.commit()


def test_audit_verify_names_a_chain_head_that_disagrees_with_the_history(submitted, clock, owner_engine):
    assert audit.verify_all(db.session, clock) == (1, [])
    db.session.rollback()
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET last_hash = :h WHERE id = :id"), {"h": "e" * 64, "id": submitted})
    db.session.expire_all()
    checked, breaks = audit.verify_all(db.session, clock)
    assert [(b.case_id, b.seq, b.reason) for b in breaks] == [
        (submitted, 2, "the case's chain head (last_hash) differs from its last history row's hash")]
    db.session.rollback()
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET last_hash = :h, last_seq = 1, last_mover = 'mallory' WHERE id = :id"),
                     {"h": last_row(submitted).hash, "id": submitted})
    db.session.expire_all()
    _, breaks = audit.verify_all(db.session, clock)
    assert [b.reason for b in breaks] == [
        "the case's chain head (last_seq 1) differs from its last history row (seq 2)"]


def test_audit_verify_names_a_last_mover_that_is_not_the_last_move_s_actor(submitted, clock, owner_engine):
    db.session.rollback()
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET last_mover = 'mallory' WHERE id = :id"), {"id": submitted})
    db.session.expire_all()
    _, breaks = audit.verify_all(db.session, clock)
    assert [(b.seq, b.reason) for b in breaks] == [(2, "the case's last_mover differs from the actor of its last move")]


def test_only_timers_that_can_be_running_in_the_state_left_are_stopped(app, clock):
    definition = load_text(publish_minimal(clock).source, filename="minimal.yaml")
    assert timers.may_run(definition, None) == frozenset()  # the opening: nothing runs yet
    assert timers.may_run(definition, "draft") == frozenset()
    assert timers.may_run(definition, "submitted") == {"review"}


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem)
def test_the_move_table_says_what_triggering_the_machine_says(path):
    definition = load_text(path.read_text("utf-8"), filename=path.name)
    machine = build_machine(definition)
    table = move_table(machine)

    class Holder:
        state: str

    pairs = 0
    for t in definition.transitions.values():
        for source in t.sources:
            holder = Holder()
            holder.state = source
            machine.events[t.name].trigger(holder)
            assert table[source, t.name] == holder.state
            pairs += 1
    assert len(table) == pairs


def test_the_migration_backfills_the_chain_head_from_history(empty_database, frozen_clock):  # noqa: F811
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database, "MIGRATION_DATABASE_URL": "",
                      "WORKFLOW_NOW": frozen_clock})
    at = "2026-11-01 00:00:00"
    with app.app_context():
        upgrade(revision="e3a1c5d70130")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO workflow_versions (id, key, version, source, sha256, published_by, "
                                 "published_at) VALUES (1, 'minimal', 1, 'key: minimal', :sha, 'tests', :at)"),
                         {"sha": "a" * 64, "at": at})
            for case_id in (1, 2):
                conn.execute(sa.text("INSERT INTO cases (id, workflow_key, version_id, state, data, lock_version, "
                                     "created_by, created_at, updated_at) VALUES (:id, 'minimal', 1, 'submitted', "
                                     "'{}', 2, 'carol', :at, :at)"), {"id": case_id, "at": at})
            rows = [(1, "transition", "carol", "1"), (2, "transition", "mike", "2"), (3, "notice", "system", "3")]
            for seq, kind, actor, digest in rows:  # case 2 has no history at all
                conn.execute(sa.text(
                    "INSERT INTO history (case_id, seq, kind, at, actor, action, from_state, to_state, inputs, "
                    "prev_hash, hash) VALUES (1, :seq, :kind, :at, :actor, 'x', NULL, 'submitted', '{}', :prev, :hash)"
                ), {"seq": seq, "kind": kind, "at": at, "actor": actor, "prev": "0" * 64, "hash": digest * 64})
        upgrade()
        with db.engine.connect() as conn:
            heads = conn.execute(sa.text("SELECT id, last_seq, last_hash, last_mover FROM cases ORDER BY id")).all()
        assert [tuple(h) for h in heads] == [(1, 3, "3" * 64, "mike"), (2, 0, "0" * 64, None)]
        db.session.remove()
        db.engine.dispose()
