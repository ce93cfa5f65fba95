"""The service targets of a month (001 售后服务管理及考核办法 3.2.1–3.2.2, 002 第四篇 三.4, §4.14), computed
from what the service recorded: the clocks of the month's calls and the customers' callback ratings in the
history. Nothing is stored, so any ended month can be recomputed, and a correction shows the next time.

The targets themselves are the repair-dispatch definition's constants (repair_dispatch.yaml), so a process
owner changes a target by publishing a new version; the report reads the latest one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..definitions import Definition
from ..engine import policy
from ..engine.clock import Clock
from ..engine.errors import InvalidInputs, NotFound, RoleRefused
from ..engine.periods import InvalidPeriod, Period, parse_period
from ..engine.publishing import current_workflow, workflow_of
from ..models import Case, HistoryEntry, Timer

Messages = dict[str, str]

SERVICE = "repair_dispatch"  # the workflow whose calls the targets are about, and whose constants hold them
COMPLAINTS = "complaint"
# 003 篇1 (二十五): the four aspects the customer rates, each on four levels (repair_dispatch.yaml).
ASPECTS = ("rating_attitude", "rating_skill", "rating_arrival", "rating_promises")
CALLBACK = "record_callback"
# 002 §4.14: the complaint workflow's clock for a dealer's phone complaint, when it has one.
DEALER_REPLY = "dealer_reply"


@dataclass(frozen=True)
class Measured:
    """`count` of `total` (a rate's numerator and denominator), or why the month has no figure."""

    count: int = 0
    total: int = 0
    not_measured: Messages | None = None


@dataclass(frozen=True)
class Scope:
    session: Session
    service: Definition
    start: datetime  # the month's first instant, UTC
    end: datetime  # the next month's first instant, UTC


@dataclass(frozen=True)
class Target:
    key: str
    label: Messages
    source: str
    comparison: str  # ">=": the figure must reach the target; "<": it must stay below it
    constant: str  # the service definition's constant holding the target, in per cent
    measure: Callable[[Scope], Measured]


@dataclass(frozen=True)
class TargetRow:
    key: str
    label: Messages
    source: str
    comparison: str
    target_pct: Decimal
    count: int
    total: int
    figure_pct: Decimal | None
    met: bool | None
    not_measured: Messages | None


@dataclass(frozen=True)
class ServiceTargets:
    month: str
    rows: list[TargetRow]


# -- measures ------------------------------------------------------------------------------------------


def _deadlines(scope: Scope, workflow: str, names: set[str]) -> Measured:
    """The clocks of these names that were met in the month (stopped in time) against all that ended in it.

    A clock met counts in the month it stopped; a clock missed counts in the month it ran out, whether it
    stopped later or still runs, so no clock counts twice across months.
    """
    if not names:
        return Measured()
    mine = and_(Timer.case_id == Case.id, Case.workflow_key == workflow, Timer.name.in_(sorted(names)))
    met = and_(Timer.status == "stopped", Timer.stopped_at <= Timer.due_at,
               Timer.stopped_at >= scope.start, Timer.stopped_at < scope.end)
    missed = and_(Timer.due_at >= scope.start, Timer.due_at < scope.end,
                  or_(Timer.stopped_at.is_(None), Timer.stopped_at > Timer.due_at))
    rows = scope.session.execute(
        select(func.count().filter(met), func.count()).select_from(Timer).join(Case, mine).where(or_(met, missed))
    ).one()
    return Measured(count=rows[0], total=rows[1])


def _timeliness(scope: Scope) -> Measured:
    # (choice) service timeliness 服务及时率: the share of the calls' clocks that mark lateness and were met.
    return _deadlines(scope, SERVICE, {t.name for t in scope.service.timers if t.mark_overdue})


def _on_site(scope: Scope) -> Measured:
    return _deadlines(scope, SERVICE, {"on_site_24h"})


def _reply(scope: Scope) -> Measured:
    return _deadlines(scope, SERVICE, {"reply_24h"})


def _dealer_reply(scope: Scope) -> Measured:
    complaint = _definition(scope.session, COMPLAINTS)
    if complaint is None or not any(t.name == DEALER_REPLY for t in complaint.timers):
        return Measured(not_measured={
            "en": f"Not measured: the complaint workflow has no {DEALER_REPLY} clock for dealers' phone complaints",
            "zh": f"未统计：客户投诉流程尚无经销商电话投诉的 {DEALER_REPLY} 时钟",
        })
    return _deadlines(scope, COMPLAINTS, {DEALER_REPLY})


def _satisfaction(scope: Scope) -> Measured:
    """The rated aspects of the month's callbacks at or above `satisfied_level`, of all aspects rated."""
    level = int(scope.service.constants["satisfied_level"])
    callbacks = scope.session.scalars(
        select(HistoryEntry.inputs).join(Case, Case.id == HistoryEntry.case_id)
        .where(Case.workflow_key == SERVICE, HistoryEntry.kind == "transition", HistoryEntry.action == CALLBACK,
               HistoryEntry.at >= scope.start, HistoryEntry.at < scope.end)
    ).all()
    levels = [inputs[a] for inputs in callbacks for a in ASPECTS if isinstance(inputs.get(a), int)]
    return Measured(count=sum(1 for v in levels if v >= level), total=len(levels))


def _service_fault(case: Case, names: set[str]) -> bool:
    department = case.data.get("responsible_department")
    return case.data.get("founded") is True and isinstance(department, str) and department.strip().casefold() in names


def _complaint_rate(scope: Scope) -> Measured:
    """Founded complaints closed in the month that are the service's fault, per call logged in the month."""
    calls = scope.session.scalar(select(func.count()).select_from(Case).where(
        Case.workflow_key == SERVICE, Case.created_at >= scope.start, Case.created_at < scope.end)) or 0
    raw = str(scope.service.constants.get("service_department_names", ""))
    names = {n.strip().casefold() for n in raw.split("|") if n.strip()}
    closing = scope.session.execute(
        select(HistoryEntry.from_state, HistoryEntry.to_state, Case).join(Case, Case.id == HistoryEntry.case_id)
        .where(Case.workflow_key == COMPLAINTS, HistoryEntry.kind == "transition",
               HistoryEntry.at >= scope.start, HistoryEntry.at < scope.end)
    ).all()
    faults = {case.id for source, dest, case in closing if _closes(case, source, dest) and _service_fault(case, names)}
    return Measured(count=len(faults), total=calls)


def _closes(case: Case, source: str | None, dest: str) -> bool:
    definition = workflow_of(case.version).definition
    return definition.is_final(dest) and not (source is not None and definition.is_final(source))


# The rows of the report, in the order of the sources.
TARGETS = (
    Target("timeliness", {"en": "Service timeliness", "zh": "服务及时率"},
           "001 售后服务管理及考核办法 3.2.1", ">=", "target_timeliness_pct", _timeliness),
    Target("satisfaction", {"en": "Customer satisfaction", "zh": "用户满意程度"},
           "001 售后服务管理及考核办法 3.2.1; 003 篇1 (二十五)", ">=", "target_satisfaction_pct", _satisfaction),
    Target("complaint_rate", {"en": "Complaint rate (the service's fault)", "zh": "用户抱怨率（确属服务责任的）"},
           "001 售后服务管理及考核办法 3.2.1", "<", "target_complaint_rate_pct", _complaint_rate),
    Target("on_site_24h", {"en": "On site within 24 hours within 100 km", "zh": "100公里内24小时内到达现场"},
           "001 售后服务管理及考核办法 3.2.2", ">=", "target_on_site_pct", _on_site),
    Target("reply_24h", {"en": "Every request answered within 24 hours", "zh": "服务信息24小时内答复"},
           "002 第四篇 三.4", ">=", "target_reply_pct", _reply),
    Target("dealer_reply_24h", {"en": "Dealers' phone complaints answered within 24 hours",
                                "zh": "经销商电话投诉24小时内回复"},
           "002 §4.14", ">=", "target_dealer_reply_pct", _dealer_reply),
)


# -- the report ----------------------------------------------------------------------------------------


def _definition(session: Session, key: str) -> Definition | None:
    try:
        return current_workflow(session, key)[1].definition
    except NotFound:
        return None


def check_month(raw: Any) -> Period:
    """The month `raw` names (YYYY-MM), or InvalidInputs (422) saying which months there are."""
    try:
        return parse_period(raw, "month")
    except InvalidPeriod as exc:
        raise InvalidInputs(exc.messages["en"], exc.messages["zh"], exc.fields) from None


def ended_month(clock: Clock, raw: Any) -> Period:
    """The month `raw` names, if it has ended in the organisation's time zone; else InvalidInputs (422)."""
    month = check_month(raw)
    following = month.next()
    if clock.now() < datetime(following.year, following.month, 1, tzinfo=clock.tz):
        en = f"{month} has not ended yet: its service targets are computed once it has"
        zh = f"{month} 尚未结束：服务目标在月底后才能统计"
        raise InvalidInputs(en, zh, {"month": {"en": en, "zh": zh}})
    return month


def _figure(measured: Measured) -> Decimal | None:
    if measured.not_measured is not None or measured.total == 0:
        return None
    return (Decimal(measured.count * 100) / measured.total).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _row(target: Target, scope: Scope) -> TargetRow:
    measured = target.measure(scope)
    goal = Decimal(str(scope.service.constants[target.constant]))
    figure = _figure(measured)
    met = None if figure is None else (figure >= goal if target.comparison == ">=" else figure < goal)
    return TargetRow(target.key, target.label, target.source, target.comparison, goal, measured.count,
                     measured.total, figure, met, measured.not_measured)


def service_targets(session: Session, clock: Clock, month: Any, actor: policy.Actor) -> ServiceTargets:
    """The month's figure against each service target; only for those policy lets read them."""
    service = current_workflow(session, SERVICE)[1].definition
    if not policy.may_read_service_targets(actor, service):
        raise RoleRefused("Only the readers of every repair call read the service targets",
                          "只有可查看全部报修案件的人员可以查看服务目标")
    period = ended_month(clock, month)
    following = period.next()
    start = datetime(period.year, period.month, 1, tzinfo=clock.tz).astimezone(UTC)
    end = datetime(following.year, following.month, 1, tzinfo=clock.tz).astimezone(UTC)
    scope = Scope(session, service, start, end)
    return ServiceTargets(str(period), [_row(target, scope) for target in TARGETS])
