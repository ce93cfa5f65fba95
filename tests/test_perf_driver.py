"""The move path's statements on the driver's cursor (workflow/engine/driver.py) write and read exactly what
SQLAlchemy would, are heard by the connection's listeners, and fail as SQLAlchemy's errors; the lean case
load hands back the Case the ORM would; guards evaluate the same with their parsed trees kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.definitions import expressions
from workflow.engine import Actor, advance, get_case, history, open_case
from workflow.engine.driver import Prebuilt
from workflow.models import Case, HistoryEntry, WorkflowVersion

from .helpers import publish_minimal

CLERK = Actor("carol", frozenset({"clerk"}))
HISTORY = HistoryEntry.__table__
AT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


@pytest.fixture
def case_id(app, clock) -> int:
    publish_minimal(clock)
    case = open_case(db.session, clock, "minimal", {"amount": "100"}, CLERK)
    db.session.commit()
    return case.id


def _row(case_id: int, seq: int) -> dict[str, Any]:
    return {"case_id": case_id, "seq": seq, "kind": "note", "at": AT, "actor": "carol", "action": "n",
            "from_state": None, "to_state": "draft", "inputs": {"text": "Grüße 你好", "n": [1, 2.5, None]},
            "comment": None, "prev_hash": "0" * 64, "hash": "1" * 64}


def _stored(conn: sa.Connection, case_id: int, seq: int) -> tuple[Any, ...]:
    """The row as the database holds it: JSON and times as their text, not as the types read them."""
    return tuple(conn.exec_driver_sql(
        "SELECT CAST(inputs AS TEXT), CAST(at AS TEXT), kind, from_state, comment FROM history "
        f"WHERE case_id = {case_id} AND seq = {seq}").one())


def test_a_row_written_on_the_driver_is_byte_identical_to_sqlalchemy_s(case_id):
    statement = sa.insert(HISTORY).returning(HISTORY.c.id)
    prebuilt = Prebuilt(statement, keys=list(_row(case_id, 10)))
    with db.engine.begin() as conn:
        conn.execute(sa.insert(HISTORY), _row(case_id, 10))
        ((new_id,),) = prebuilt.rows(conn, _row(case_id, 11))
        assert isinstance(new_id, int)
        assert _stored(conn, case_id, 11) == _stored(conn, case_id, 10)
        conn.rollback()


def test_a_column_default_the_caller_leaves_out_is_written_as_sqlalchemy_would(case_id):
    """history.kind defaults to 'transition': left out, the driver fills it in from the column's default."""
    row = {k: v for k, v in _row(case_id, 12).items() if k != "kind"}
    with db.engine.begin() as conn:
        Prebuilt(sa.insert(HISTORY), keys=list(row)).send_many(conn, [row]).close()
        assert _stored(conn, case_id, 12)[2] == "transition"
        conn.rollback()


def test_listeners_hear_the_driver_s_statements_and_its_errors_are_sqlalchemy_s(case_id):
    heard: list[tuple[str, bool]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        heard.append((statement, many))

    sa.event.listen(db.engine, "before_cursor_execute", listen)
    try:
        prebuilt = Prebuilt(sa.insert(HISTORY), keys=list(_row(case_id, 13)))
        with db.engine.connect() as conn:
            prebuilt.send_many(conn, [_row(case_id, 13)]).close()
            assert heard and heard[-1][0].startswith("INSERT INTO history") and heard[-1][1] is True
            with pytest.raises(IntegrityError):  # the same (case_id, seq) again
                prebuilt.send_many(conn, [_row(case_id, 13)])
            conn.rollback()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", listen)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HISTORY).where(HISTORY.c.seq == 13)) == 0


def _columns(instance: Any) -> dict[str, Any]:
    return {attr.key: getattr(instance, attr.key) for attr in sa.inspect(type(instance)).column_attrs
            if attr.key != "source"}


def test_the_lean_load_is_the_case_the_orm_loads(case_id):
    with Session(db.engine) as lean, Session(db.engine) as orm:
        case, expected = get_case(lean, case_id), orm.get(Case, case_id)
        assert expected is not None and case is not expected
        assert _columns(case) == _columns(expected)
        assert _columns(case.version) == _columns(expected.version)
        assert sa.inspect(case).persistent and not sa.inspect(case).modified
        assert lean.get(Case, case_id) is case and lean.get(WorkflowVersion, case.version_id) is case.version
        assert case.version.source == expected.version.source  # deferred: read when asked for
        assert case.timers == []  # a relationship loads when asked for, as from the ORM


def test_the_lean_load_leaves_pending_changes_to_the_orm_which_flushes_them_first(case_id, clock):
    with Session(db.engine) as session:
        other = open_case(session, clock, "minimal", {"amount": "7"}, CLERK)  # flushed
        other.data = {**other.data, "amount": "8"}  # pending
        case = get_case(session, case_id)
        assert not session.dirty  # the ORM's get flushed it first, as session.get does
        assert case.state == "draft" and session.get(Case, case_id) is case
        session.rollback()


def test_a_case_moved_after_a_lean_load_writes_what_it_did_before(case_id, clock):
    """The whole move on driver statements: state, chain and timers as the ORM path wrote them."""
    with Session(db.engine) as session:
        case = get_case(session, case_id)
        entry_hash = advance(session, clock, case, "submit", CLERK).hash
        session.commit()
    rows = db.session.scalars(sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id)
                              .order_by(HistoryEntry.seq)).all()
    assert [r.seq for r in rows] == [1, 2] and rows[-1].hash == entry_hash
    assert history.verify_case(list(rows)) is None
    moved = db.session.get(Case, case_id)
    assert moved is not None and (moved.state, moved.lock_version, moved.last_hash) == ("submitted", 2, entry_hash)
    assert [(t.name, t.status) for t in moved.timers] == [("review", "running")]


def test_a_guard_evaluated_inside_another_s_function_gets_an_evaluator_of_its_own():
    inner = expressions.Expression("x + 1")

    def nested(value: int) -> Any:
        return expressions.value_of(inner, {"x": value})

    outer = expressions.Expression("f(y) * 10 + y")
    assert expressions.value_of(outer, {"y": 2}, {"f": nested}) == 32
    assert expressions.value_of(outer, {"y": 3}, {"f": nested}) == 43  # nothing kept from the last one
    assert expressions.evaluate("cause in ('a', 'b') and x is set", {"cause": "a", "x": 1})
    assert not expressions.evaluate("x is set", {"x": None})
    assert expressions.value_of("1 +", {}) is None  # an expression that cannot be evaluated: None
