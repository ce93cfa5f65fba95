"""A sweep's batch writes what its cases announce together: each statement once per batch, whatever its
size, and rows byte for byte as the one-at-a-time path (notices.announce) writes them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.engine import Actor, advance, notices, notifications
from workflow.engine.errors import StaleCase
from workflow.engine.history import verify_case
from workflow.engine.publishing import workflow_of
from workflow.engine.users import create_user
from workflow.engine.worker import TickReport, fire_due_timers, lock_batch, process_case
from workflow.models import Case, HistoryEntry, Notification

from .helpers import MINIMAL_CLERK, minimal_text, publish_minimal, submit_minimal

CLERK = MINIMAL_CLERK
MANAGER = Actor("mia", frozenset({"manager"}))
# The review timer reminds the managers every day once expired (a sweep that comes days late sends each
# reminder it missed, chained one after the other); a second timer reminds the clerks once, so that a
# batch notifies two sets of roles.
REMINDERS = {
    "      notify: [manager]\n      fire: expire\n": (
        "      notify: [manager]\n      notice: reminder\n      repeat: 1d\n"
        "  - name: chase\n"
        "    label: {en: Chase within 3 working days, zh: 3个工作日内催办}\n"
        "    start: {enter: submitted}\n"
        "    stop: {leave: submitted}\n"
        "    duration: 3wd\n"
        "    on_expiry:\n"
        "      notify: [clerk]\n"
        "      notice: reminder\n"
    ),
}
# As REMINDERS, and a third timer that moves the case once the reminders have run for a while: in one
# sweep, a case's notices come before its move, on the same chain.
REMINDERS_THEN_EXPIRY = {
    **REMINDERS,
    "  - name: chase\n": (
        "  - name: give_up\n"
        "    label: {en: Given up after 6 working days, zh: 6个工作日后放弃}\n"
        "    start: {enter: submitted}\n"
        "    stop: {leave: submitted}\n"
        "    duration: 6wd\n"
        "    on_expiry:\n"
        "      fire: expire\n"
        "  - name: chase\n"
    ),
}


def _text(replacements: dict[str, str]) -> str:
    text = minimal_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def people(app, clock) -> None:
    for name, roles in (("mia", ["manager"]), ("max", ["manager"]), ("carol", ["clerk"]), ("cleo", ["clerk"])):
        create_user(db.session, name, roles, clock.now())
    db.session.commit()


@pytest.fixture
def statements(app) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_statement(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", on_statement)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", on_statement)


def sweep(clock, now, seen: list[str]) -> tuple[TickReport, list[str]]:
    before = len(seen)
    report = fire_due_timers(lambda: Session(db.engine), clock, now=now)
    db.session.expire_all()
    return report, seen[before:]


def written(session: Session, ids: list[int]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The cases' notices and notifications, every column but the id, in the order written."""
    history = session.execute(
        sa.select(*(c for c in HistoryEntry.__table__.c if c.key != "id"))
        .where(HistoryEntry.case_id.in_(ids), HistoryEntry.kind == "notice").order_by(HistoryEntry.id)).all()
    sent = session.execute(
        sa.select(*(c for c in Notification.__table__.c if c.key != "id"))
        .where(Notification.case_id.in_(ids)).order_by(Notification.id)).all()
    return [tuple(r) for r in history], [tuple(r) for r in sent]


def test_a_batch_sends_each_statement_once_whatever_its_size(clock, frozen_clock, people, statements):
    publish_minimal(clock, _text(REMINDERS))
    few_ids = submit_minimal(clock, 3)
    few_report, few = sweep(clock, frozen_clock.now + timedelta(days=10), statements)
    for case_id in few_ids:  # done with: their reminders stop
        advance(db.session(), clock, db.session.get(Case, case_id), "approve", MANAGER)
    db.session.commit()
    frozen_clock.set(frozen_clock.now + timedelta(days=11))
    many_ids = submit_minimal(clock, 15)
    many_report, many = sweep(clock, frozen_clock.now + timedelta(days=10), statements)

    assert (few_report.cases, many_report.cases) == (3, 15)
    # several notices per case: the managers' catch-up reminders and the clerks' one
    assert few_report.reminders >= 3 * 4 and many_report.reminders >= 15 * 4
    assert len(many) == len(few), many  # nothing per case
    for sent in (few, many):
        def count(prefix: str, sent: list[str] = sent) -> int:
            return sum(" ".join(s.split()).upper().startswith(prefix) for s in sent)
        # the calendar, the cases locked and their timers; the people of both sets of roles, their role rows
        # joined in; then each write once for the batch
        assert count("SELECT") == 4
        assert count("SELECT USERS.") == 1 and not [s for s in sent if " ".join(s.split()).startswith(
            "SELECT user_roles.")]
        assert (count("INSERT INTO HISTORY"), count("UPDATE CASES"), count("INSERT INTO NOTIFICATIONS"),
                count("UPDATE TIMERS")) == (1, 1, 1, 1)
    for case_id in few_ids + many_ids:
        entries = list(db.session.scalars(
            sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id).order_by(HistoryEntry.seq)))
        assert verify_case(entries) is None
        case = db.session.get(Case, case_id)
        assert (case.last_seq, case.last_hash) == (entries[-1].seq, entries[-1].hash)
        reminders = [e.inputs["number"] for e in entries if e.kind == "notice" and e.inputs["timer"] == "review"]
        assert reminders == list(range(1, len(reminders) + 1)) and len(reminders) >= 3


def test_a_batch_writes_what_announcing_one_at_a_time_writes(clock, frozen_clock, people):
    """The batch's rows against the one-at-a-time path's, run first on the same cases and rolled back."""
    publish_minimal(clock, _text(REMINDERS))
    ids = submit_minimal(clock, 4)
    now = frozen_clock.now + timedelta(days=10)

    class OneAtATime(notices.Batch):
        def announce(self, session: Session, *args: Any, **kw: Any) -> None:
            notices.announce(session, *args, **kw)

    with Session(db.engine) as session, session.begin():
        cases = lock_batch(session, now, 100)
        with notifications.recipients_kept(session):
            for case in cases:
                batch = OneAtATime()
                definition = workflow_of(case.version).definition
                process_case(session, clock, definition, case, now, False, TickReport(), batch)
                assert not batch
        session.flush()
        one_at_a_time = written(session, ids)
        session.rollback()
    assert written(db.session(), ids) == ([], [])

    report = fire_due_timers(lambda: Session(db.engine), clock, now=now)
    db.session.expire_all()
    assert report.cases == 4 and report.reminders >= 16
    together = written(db.session(), ids)
    assert together == one_at_a_time and len(together[0]) == report.reminders and together[1]


def test_a_case_reminded_and_moved_in_one_sweep_keeps_one_chain(clock, frozen_clock, people):
    publish_minimal(clock, _text(REMINDERS_THEN_EXPIRY))
    ids = submit_minimal(clock, 5)
    report = fire_due_timers(lambda: Session(db.engine), clock, now=frozen_clock.now + timedelta(days=12),
                             batch_size=3)
    db.session.expire_all()
    # the notices the batch held were written before the move appended to the chain from the stored head
    assert (report.cases, report.fired, report.failed, report.refused) == (5, 5, [], [])
    for case_id in ids:
        entries = list(db.session.scalars(
            sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id).order_by(HistoryEntry.seq)))
        assert verify_case(entries) is None
        kinds = [(e.kind, e.action) for e in entries]
        assert kinds[-1] == ("transition", "expire") and ("notice", "reminder") in kinds[:-1]
        assert db.session.get(Case, case_id).state == "rejected"


def test_a_batch_whose_stored_chain_head_moved_writes_nothing(clock, frozen_clock, people):
    publish_minimal(clock, _text(REMINDERS))
    (case_id,) = submit_minimal(clock, 1)
    now = frozen_clock.now + timedelta(days=10)
    with Session(db.engine) as session, session.begin():
        (case,) = lock_batch(session, now, 1)
        batch = notices.Batch()
        process_case(session, clock, workflow_of(case.version).definition, case, now, False, TickReport(), batch)
        stored_case, stored = batch.heads[case_id]
        batch.heads[case_id] = (stored_case, stored + 1)  # as if another transaction had appended meanwhile
        with pytest.raises(StaleCase):
            notices.write(session, batch)
        assert session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry)
                              .where(HistoryEntry.kind == "notice")) == 0
        session.rollback()

