"""Timer sweeps in batches: a few statements per case, one commit per batch, and a case that fails
rolled back alone while the rest of its batch commits (the batch run again, a SAVEPOINT per case)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.engine.worker import DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE, TickReport, fire_due_timers
from workflow.models import Case

from .helpers import MINIMAL_CLERK, minimal_text, publish_minimal, submit_minimal

CLERK = MINIMAL_CLERK
# The minimal workflow's review timer, made to notify only: its expiry neither moves the case nor
# repeats, so each case costs a sweep the same work and is done after one.
NOTIFY_ONLY = {"      fire: expire\n": ""}


@dataclass
class Statements:
    """What the service's engine sent the database: every statement, and the COMMITs apart."""

    sql: list[str] = field(default_factory=list)
    commits: int = 0

    def count(self, prefix: str) -> int:
        return sum(1 for s in self.sql if s.lstrip().upper().startswith(prefix))


@pytest.fixture
def statements(app) -> Iterator[Statements]:
    seen = Statements()

    def on_statement(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.sql.append(statement)

    def on_commit(conn) -> None:
        seen.commits += 1

    sa.event.listen(db.engine, "before_cursor_execute", on_statement)
    sa.event.listen(db.engine, "commit", on_commit)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", on_statement)
    sa.event.remove(db.engine, "commit", on_commit)


def sweep(clock, now, seen: Statements | None = None, **options) -> tuple[TickReport, Statements]:
    """One sweep at `now`, with what it sent the database counted on its own."""
    before = (len(seen.sql), seen.commits) if seen else (0, 0)
    report = fire_due_timers(lambda: Session(db.engine), clock, now=now, **options)
    db.session.expire_all()
    if seen is None:
        return report, Statements()
    return report, Statements(seen.sql[before[0]:], seen.commits - before[1])


def test_a_sweep_sends_a_few_statements_per_case_and_reads_timers_once_per_batch(
    clock, frozen_clock, statements
):
    publish_minimal(clock, minimal_text(**NOTIFY_ONLY))
    submit_minimal(clock, 3)
    few_report, few = sweep(clock, frozen_clock.now + timedelta(days=30), statements)
    frozen_clock.set(frozen_clock.now + timedelta(days=31))
    submit_minimal(clock, 15)
    many_report, many = sweep(clock, frozen_clock.now + timedelta(days=30), statements)

    assert (few_report.cases, few_report.expired) == (3, 3)
    assert (many_report.cases, many_report.expired) == (15, 15)
    per_case = (len(many.sql) - len(few.sql)) / 12
    assert per_case <= 2, many.sql  # its timer's UPDATE, its notifications' INSERT
    # what a batch does once, whatever its size: the calendar, the cases locked, their timers locked, the
    # people to notify (the same roles for every case)
    for sent in (few, many):
        assert sum("FROM closures" in s for s in sent.sql) == 1
        assert sum("FROM cases" in s for s in sent.sql) == 1
        assert sum(s.lstrip().startswith("SELECT") and "FROM timers" in s and "FROM cases" not in s
                   for s in sent.sql) == 1
        assert sum(s.lstrip().startswith("SELECT") and "FROM users" in s for s in sent.sql) == 1
    assert many.count("SAVEPOINT") == 0  # no case failed: no batch needed one per case


def test_a_batch_commits_once(clock, frozen_clock, statements):
    publish_minimal(clock, minimal_text(**NOTIFY_ONLY))
    submit_minimal(clock, 25)
    due = frozen_clock.now + timedelta(days=30)
    report, sent = sweep(clock, due, statements, batch_size=10)
    assert report.cases == 25 and report.failed == []
    assert sent.commits == 3  # batches of 10, 10 and 5; the short last one ends the sweep

    frozen_clock.set(frozen_clock.now + timedelta(days=31))
    submit_minimal(clock, 25)
    report, sent = sweep(clock, frozen_clock.now + timedelta(days=30), statements)
    assert report.cases == 25 and sent.commits == 1 and DEFAULT_BATCH_SIZE >= 25

    report, sent = sweep(clock, frozen_clock.now + timedelta(days=30), statements)
    assert report.cases == 0 and sent.commits == 1  # nothing due: the calendar read, and no more


def test_fired_moves_of_a_batch_commit_together(clock, frozen_clock, statements):
    publish_minimal(clock)
    ids = submit_minimal(clock, 12)
    report, sent = sweep(clock, frozen_clock.now + timedelta(days=30), statements, batch_size=5)
    assert (report.cases, report.fired, report.failed) == (12, 12, [])
    # 5, 5 and 2; a batch that fired moves looks again, since a move may start a timer due already
    assert sent.commits == 4
    states = db.session.scalars(sa.select(Case.state).where(Case.id.in_(ids))).all()
    assert states == ["rejected"] * 12


def test_a_case_that_fails_is_rolled_back_and_reported_while_its_batch_commits(
    clock, frozen_clock, statements, owner_engine
):
    publish_minimal(clock, minimal_text(**NOTIFY_ONLY))
    ids = submit_minimal(clock, 6)
    bad = ids[2]
    # a state the case's definition does not know: its overdue message cannot be written
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE cases SET state = 'nowhere' WHERE id = :id"), {"id": bad})
    due = frozen_clock.now + timedelta(days=30)

    report, sent = sweep(clock, due, statements, batch_size=4)
    assert report.cases == 5 and report.expired == 5
    assert len(report.failed) == 1 and "KeyError" in report.failed[0] and "nowhere" in report.failed[0]
    assert "failed, left for the next sweep" in str(report)
    assert sent.commits == 2  # batches of 4 and 2: the bad case was not taken again
    # The first batch, run together, failed on the bad case and was rolled back whole, then run again with a
    # SAVEPOINT per case (the bad case's own is never sent: it fails before it writes); the second needed none.
    locks = [n for n, sql in enumerate(sent.sql) if "FROM cases" in sql]
    first, again, second = (sent.sql[a:b] for a, b in zip(locks, [*locks[1:], len(sent.sql)], strict=True))
    assert sum(sql.startswith("SAVEPOINT") for sql in again) == 3
    assert not [sql for sql in first + second if "SAVEPOINT" in sql]
    timers = dict(db.session.execute(sa.text(
        "SELECT case_id, next_action_at IS NULL AND expired_at IS NOT NULL FROM timers")).all())
    assert timers == {i: i != bad for i in ids}  # its timer is as it was, still due; the others expired

    again, _ = sweep(clock, due, statements)
    assert again.cases == 0 and len(again.failed) == 1  # reported again, the others not fired twice


def test_the_batch_size_is_bounded(app, clock, frozen_clock, runner):
    for size in (0, MAX_BATCH_SIZE + 1):
        with pytest.raises(ValueError, match="batch size"):
            fire_due_timers(lambda: Session(db.engine), clock, batch_size=size)
        app.config["WORKER_BATCH_SIZE"] = size
        result = runner.invoke(args=["workflow", "tick"])
        assert result.exit_code != 0 and "WORKER_BATCH_SIZE must be between 1 and 1000" in result.output
    app.config["WORKER_BATCH_SIZE"] = 1
    publish_minimal(clock, minimal_text(**NOTIFY_ONLY))
    submit_minimal(clock, 3)
    result = runner.invoke(args=["workflow", "tick", "--now", (frozen_clock.now + timedelta(days=30)).isoformat()])
    assert result.exit_code == 0 and result.output.startswith("3 case(s)"), result.output
