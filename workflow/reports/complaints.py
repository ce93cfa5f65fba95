"""The monthly complaint report (003 篇1 (九)10, (十二)1): last month's closed complaints, each on time or late
against its closure limit (13 days domestic, 17 foreign, from registration), the responsible department and
the people's shares, the loss amounts, the penalties and whether the improvement is tracked.

Everything is recomputed from the history (registration and closing moves, the case data at closing) and
the penalty ledger, so a late correction (a loss shared again, say) changes the report of that month. The
GM office is told on the month's first working day and confirms by the definition's `report_due_day`
(`ReportConfirmation`, which keeps the digest of the figures confirmed).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..definitions import Definition, expressions
from ..engine import policy
from ..engine.cases import typed_data
from ..engine.clock import Clock
from ..engine.errors import InvalidInputs, RoleRefused, WrongState
from ..engine.history import TRANSITION
from ..engine.notifications import notify
from ..engine.periods import Period, parse_period
from ..engine.publishing import workflow_of
from ..engine.timers import due_at
from ..models import Case, HistoryEntry
from ..penalties.ledger import bonus_of, entries_of_case
from ..penalties.models import REJECTED, SUPERSEDED, ReportConfirmation
from ..penalties.rules import COMPLAINT, complaint_definition, rules_of, sanction_for

REPORT_KIND, REMINDER_KIND = "report", "reminder"


@dataclass
class ShareRow:
    person: str
    kind: str
    share: Decimal | None
    amount: Decimal
    status: str
    sanction: str | None


@dataclass
class ComplaintRow:
    case_id: int
    number: str | None
    customer: str
    market: str
    outcome: str  # the final state
    registered_at: datetime | None
    closed_at: datetime
    limit_days: int | None
    due_at: datetime | None
    on_time: bool | None  # None: never registered, so no limit ran
    responsible_department: str | None
    loss_amount: Decimal | None
    responsible_loss: Decimal | None
    improvement_tracked: bool | None
    penalty_kind: str | None
    shares: list[ShareRow] = field(default_factory=list)


@dataclass
class DepartmentRow:
    department: str
    cases: int
    late: int
    responsible_loss: Decimal


@dataclass
class ComplaintReport:
    period: str
    rows: list[ComplaintRow]
    departments: list[DepartmentRow]
    closed: int
    on_time: int
    late: int
    digest: str
    due_on: date
    notified_at: datetime | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
    changed_since_confirmation: bool = False


def month_bounds(clock: Clock, month: Period) -> tuple[datetime, datetime]:
    """The month's first and the next month's first moment, in the organisation's time zone, as UTC."""
    nxt = month.next()
    start = datetime(month.year, month.month, 1, tzinfo=clock.tz)
    return start.astimezone(UTC), datetime(nxt.year, nxt.month, 1, tzinfo=clock.tz).astimezone(UTC)


def ended_month(clock: Clock, period: str) -> Period:
    """The month `period` names, refused (422) unless it has ended: a month still running has no report."""
    month = parse_period(period, "period")
    if clock.now() < month_bounds(clock, month)[1]:
        en = f"{month} has not ended yet: its complaint report is made once the month is over"
        zh = f"{month} 尚未结束：月度投诉报告须在当月结束后生成"
        raise InvalidInputs(en, zh, {"period": {"en": en, "zh": zh}})
    return month


def _moves(session: Session, case_id: int) -> list[HistoryEntry]:
    return list(session.scalars(select(HistoryEntry).where(
        HistoryEntry.case_id == case_id, HistoryEntry.kind == TRANSITION).order_by(HistoryEntry.seq)))


def _limit(clock: Clock, definition: Definition, moves: list[HistoryEntry], data: dict[str, Any]
           ) -> tuple[datetime | None, int | None, datetime | None]:
    """When the case's closure limit started, its length in days and when it fell due, from the history."""
    names = str(definition.constants.get("closure_timers", "")).split()
    typed = typed_data(definition, data)
    for spec in definition.timers:
        if spec.name not in names or (spec.when and not expressions.evaluate(spec.when, typed)):
            continue
        starts = {e.name for e in spec.start if e.kind == "transition"}
        started = next((m.at for m in moves if m.action in starts), None)
        if started is not None and spec.duration is not None:
            return started, spec.duration.amount, due_at(clock, spec, started, data)
    return None, None, None


def _shares(session: Session, case: Case, bonus_cache: dict[str, Decimal | None], definition: Definition
            ) -> list[ShareRow]:
    rules = rules_of(definition)
    rows = []
    for entry in entries_of_case(session, case.id):
        if entry.status in (SUPERSEDED, REJECTED):
            continue
        if entry.person not in bonus_cache:
            bonus_cache[entry.person] = bonus_of(session, entry.person)
        rows.append(ShareRow(entry.person, entry.kind, entry.share, entry.amount, entry.status,
                             sanction_for(entry.amount, bonus_cache[entry.person], rules)))
    return rows


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _row(session: Session, clock: Clock, case: Case, closing: HistoryEntry,
         bonus_cache: dict[str, Decimal | None]) -> ComplaintRow:
    definition = workflow_of(case.version).definition
    moves = [m for m in _moves(session, case.id) if m.seq <= closing.seq]
    data = case.data
    registered, days, due = _limit(clock, definition, moves, data)
    return ComplaintRow(
        case_id=case.id, number=case.number, customer=str(data.get("customer", "")),
        market=str(data.get("market", "")), outcome=closing.to_state, registered_at=registered,
        closed_at=closing.at, limit_days=days, due_at=due, on_time=None if due is None else closing.at <= due,
        responsible_department=data.get("responsible_department"), loss_amount=_decimal(data.get("loss_amount")),
        responsible_loss=_decimal(data.get("responsible_loss")), improvement_tracked=data.get("improvement_tracked"),
        penalty_kind=data.get("penalty_kind"), shares=_shares(session, case, bonus_cache, definition))


def _closings(session: Session, start: datetime, end: datetime) -> list[tuple[Case, HistoryEntry]]:
    """Each complaint's closing move within [start, end): a move into one of its definition's final states."""
    found = []
    rows = session.execute(select(Case, HistoryEntry).join(HistoryEntry, HistoryEntry.case_id == Case.id).where(
        Case.workflow_key == COMPLAINT, HistoryEntry.kind == TRANSITION,
        HistoryEntry.at >= start, HistoryEntry.at < end).order_by(HistoryEntry.at, HistoryEntry.id)).all()
    for case, move in rows:
        states = workflow_of(case.version).definition.states
        if move.to_state in states and states[move.to_state].final:
            found.append((case, move))
    return found


def _departments(rows: list[ComplaintRow]) -> list[DepartmentRow]:
    by: dict[str, DepartmentRow] = {}
    for row in rows:
        if row.outcome != "closed":
            continue
        name = row.responsible_department or "-"
        dept = by.setdefault(name, DepartmentRow(name, 0, 0, Decimal(0)))
        dept.cases += 1
        dept.late += row.on_time is False
        dept.responsible_loss += row.responsible_loss or Decimal(0)
    return sorted(by.values(), key=lambda d: d.department)


def _digest(rows: list[ComplaintRow]) -> str:
    text = json.dumps([asdict(r) for r in rows], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def due_day(month: Period, day: int) -> date:
    nxt = month.next()
    return date(nxt.year, nxt.month, day)


def complaint_report(session: Session, clock: Clock, period: str, actor: policy.Actor) -> ComplaintReport:
    """The report of an ended month, as the history and the ledger give it now."""
    definition = _definition(session)
    if not policy.may_read_complaint_report(actor, definition):
        raise RoleRefused("You may not read the complaint report", "您无权查看月度投诉报告")
    month = ended_month(clock, period)
    start, end = month_bounds(clock, month)
    cache: dict[str, Decimal | None] = {}
    rows = [_row(session, clock, case, move, cache) for case, move in _closings(session, start, end)]
    digest = _digest(rows)
    report = ComplaintReport(
        period=str(month), rows=rows, departments=_departments(rows), closed=len(rows),
        on_time=sum(r.on_time is True for r in rows), late=sum(r.on_time is False for r in rows), digest=digest,
        due_on=due_day(month, rules_of(definition).report_due_day))
    confirmation = session.get(ReportConfirmation, str(month))
    if confirmation is not None:
        report.notified_at, report.confirmed_by = confirmation.notified_at, confirmation.confirmed_by
        report.confirmed_at = confirmation.confirmed_at
        report.changed_since_confirmation = confirmation.digest is not None and confirmation.digest != digest
    return report


def _definition(session: Session) -> Definition:
    return complaint_definition(session)


def confirm_report(session: Session, clock: Clock, period: str, actor: policy.Actor) -> ComplaintReport:
    """The GM office confirms the month's report as it stands (again after a correction changed it)."""
    definition = _definition(session)
    policy.refuse_read_only(actor)
    if not policy.may_confirm_complaint_report(actor, definition):
        role = rules_of(definition).report_role
        raise RoleRefused(f"Only the role {role} confirms the complaint report",
                          f"只有角色 {role} 可以确认月度投诉报告")
    report = complaint_report(session, clock, period, actor)
    row = session.get(ReportConfirmation, report.period) or ReportConfirmation(period=report.period)
    if row.confirmed_at is not None and row.digest == report.digest:
        raise WrongState(f"The report of {report.period} is already confirmed as it stands",
                         f"{report.period} 的报告已按现状确认")
    row.confirmed_by, row.confirmed_at, row.digest = actor.name, clock.now(), report.digest
    session.add(row)
    session.flush()
    return complaint_report(session, clock, period, actor)


def _first_working_day(clock: Clock, day: date) -> date:
    assert clock.calendar is not None
    while not clock.calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def announce_due_reports(session: Session, clock: Clock) -> list[str]:
    """Tell the report role that last month's report is due (kind `report`, from the month's first working
    day), and remind it once a day after the due day while unconfirmed (kind `reminder`). Returns what it did."""
    definition = _definition(session)
    rules = rules_of(definition)
    now = clock.now()
    today = clock.local(now).date()
    this = Period(today.year, today.month)
    last = Period(today.year - 1, 12) if today.month == 1 else Period(today.year, today.month - 1)
    row = session.get(ReportConfirmation, str(last)) or ReportConfirmation(period=str(last))
    done = []
    if row.notified_at is None and today >= _first_working_day(clock, date(this.year, this.month, 1)):
        notify(session, [rules.report_role], case=None, kind=REPORT_KIND, at=now, message={
            "en": f"The complaint report of {last} is due: confirm it by the {rules.report_due_day}th",
            "zh": f"{last} 月度投诉报告：请于{rules.report_due_day}日前确认"})
        row.notified_at = now
        done.append(f"notified {last}")
    reminded_today = row.reminded_at is not None and clock.local(row.reminded_at).date() == today
    if row.confirmed_at is None and today.day > rules.report_due_day and not reminded_today:
        notify(session, [rules.report_role], case=None, kind=REMINDER_KIND, at=now, message={
            "en": f"The complaint report of {last} was due on the {rules.report_due_day}th and is not confirmed",
            "zh": f"{last} 月度投诉报告应于{rules.report_due_day}日前确认，尚未确认"})
        row.reminded_at = now
        done.append(f"reminded {last}")
    session.add(row)
    session.flush()
    return done
