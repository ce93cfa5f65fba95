"""The models of API v1 (web/contract.py): what each call takes and what it answers, with every bound the
service holds it to. Answers are built from the engine's objects by each model's `of`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from flask import current_app
from pydantic import BeforeValidator, Field, StrictInt, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticUseDefault

from workflow.appraisal.models import Evidence
from workflow.appraisal.operations import MonthView, parse_month
from workflow.definitions import Definition, FieldSpec, TimerSpec, TransitionSpec
from workflow.definitions.schema import FIELD_TYPES, DateDeadline
from workflow.definitions.schema import Deadline as DeadlineSpec
from workflow.definitions.values import PERIOD_PATTERN
from workflow.engine import Clock, WorkflowError, numbering
from workflow.engine.cases import MAX_ID
from workflow.engine.limits import MAX_COMMENT, MAX_DEPARTMENT, check_comment, check_department
from workflow.engine.periods import parse_period
from workflow.engine.search import MAX_TEXT as MAX_SEARCH_TEXT
from workflow.engine.sla import Figures
from workflow.engine.timers import timer_status
from workflow.models import Case, HistoryEntry, Notification, WorkflowVersion

from . import limits
from .contract import Answer, Contract

NOTIFICATIONS_SHOWN, MAX_NOTIFICATIONS_SHOWN = 20, 200
TIMER_STATUSES = ("running", "warning", "overdue", "due", "stopped", "stopped_late")

# -- parts of requests ----------------------------------------------------------------------------------------


def _query_number(raw: Any) -> Any:
    """A query argument that is a number: blank is absent; only digits, never "+1", "1.0" or "１"."""
    if isinstance(raw, str):
        raw = raw.strip()
        if not raw:
            raise PydanticUseDefault()
        if not (raw.isascii() and raw.isdigit()):
            raise ValueError("must be a whole number")
    return raw


def _query_flag(raw: Any) -> Any:
    """A yes/no query argument: 1, true or yes (any case) is yes; anything else, or nothing, is no."""
    return raw.strip().lower() in ("1", "true", "yes") if isinstance(raw, str) else raw


def _language(raw: Any) -> Any:
    """An unknown language draws the default one rather than refusing the drawing."""
    return raw if raw in ("en", "zh") else None


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # "absent" is not a value a client could send


def absent(description: str | None = None) -> Any:
    """The default of an optional query argument: not sent."""
    return Field(None, description=description, json_schema_extra=_no_default)


RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
QueryRowId = Annotated[RowId, BeforeValidator(_query_number)]
Flag = Annotated[bool, BeforeValidator(_query_flag)]
Language = Annotated[Literal["en", "zh"] | SkipJsonSchema[None], BeforeValidator(_language)]
Period = Annotated[str, Field(pattern=f"^{PERIOD_PATTERN}$", description="A month, YYYY-MM, of the WORKFLOW_YEARS")]
Department = Annotated[str, Field(min_length=1, max_length=MAX_DEPARTMENT)]
Comment = Annotated[str | None, Field(max_length=MAX_COMMENT, description="Kept in the history for good")]
# Case data and step inputs depend on the workflow: the engine checks each against the definition's fields
# (422 invalid_inputs naming each bad one), after web/limits.py bounded the whole body's size and depth.
EngineObject = Annotated[Any, WithJsonSchema({
    "type": "object", "description": "Fields of the workflow (GET /workflows/{key}); at most MAX_JSON_DEPTH (20) "
    "levels deep, in a body of at most MAX_CONTENT_LENGTH (1 MiB)"})]


def _whole_number_between(name: str, low: int, high: int) -> Any:
    return lambda raw: limits.optional_int_arg(name, low, high, {name: str(raw)})


def _named(field: str, en: str, zh: str) -> Any:
    """The refusal the API gave before the contract, now naming its field."""

    def refuse(raw: Any) -> None:
        raise WorkflowError(en, zh, {field: {"en": en, "zh": zh}})

    return refuse


class WorkflowQuery(Contract):
    version: QueryRowId | SkipJsonSchema[None] = absent("A published version; default the latest")
    refusals = {"version": _whole_number_between("version", 1, MAX_ID)}


class WorkflowDiagramQuery(WorkflowQuery):
    lang: Language = absent()


class DiagramQuery(Contract):
    lang: Language = absent()


class CasesQuery(Contract):
    workflow: str | SkipJsonSchema[None] = absent()
    state: str | SkipJsonSchema[None] = absent()
    actionable: Flag = Field(False, description="Only cases the caller may act on now")
    q: Annotated[str, Field(max_length=MAX_SEARCH_TEXT)] | SkipJsonSchema[None] = absent(
        "Text anywhere in the case: its number, data, comments and notes (the lists' search); exact number first")
    page: QueryRowId = Field(1, description="1-based; past the last page is an empty page")
    per_page: Annotated[int, Field(ge=1), BeforeValidator(_query_number)] | SkipJsonSchema[None] = absent(
        "Default API_PAGE_SIZE (50); at most API_MAX_PAGE_SIZE (500), else a 400")
    refusals = {"page": _whole_number_between("page", 1, MAX_ID),
                "per_page": lambda raw: limits.optional_int_arg(
                    "per_page", 1, current_app.config["API_MAX_PAGE_SIZE"], {"per_page": str(raw)})}


class NotificationsQuery(Contract):
    limit: Annotated[int, Field(ge=1, le=MAX_NOTIFICATIONS_SHOWN), BeforeValidator(_query_number)] = (
        NOTIFICATIONS_SHOWN)
    unread: Flag = Field(False, description="Only the unread ones")
    refusals = {"limit": _whole_number_between("limit", 1, MAX_NOTIFICATIONS_SHOWN)}


GIVE_SLA = ("Give ?workflow=KEY&month=YYYY-MM", "请提供 ?workflow=流程&month=YYYY-MM")


def _sla_month(raw: Any) -> None:
    if not raw:
        _named("month", *GIVE_SLA)(raw)
    parse_period(raw, "month")


class SlaQuery(Contract):
    workflow: str = Field(min_length=1)
    month: Period
    refusals = {"workflow": _named("workflow", *GIVE_SLA),
                "month": _sla_month}


class CreateCase(Contract):
    workflow: str = Field(description="The key of a published workflow")
    data: EngineObject = Field(default_factory=dict)
    comment: Comment = None
    refusals = {"workflow": _named("workflow", "Name the workflow: {\"workflow\": key, \"data\": {...}}",
                                   "请指定流程 workflow"),
                "comment": check_comment}


class TakeAction(Contract):
    inputs: EngineObject | None = None
    comment: Comment = None
    expected_version: StrictInt | None = Field(None, description="The lock_version the caller saw; else a 409")
    refusals = {"comment": check_comment,
                "expected_version": _named("expected_version", "expected_version must be a whole number",
                                           "expected_version 必须是整数")}


GIVE_MONTH = ("Give {\"department\": ..., \"period\": \"YYYY-MM\"}", "请提供部门和月份（YYYY-MM）")


def _month(raw: Any) -> None:
    if raw is None:
        _named("period", *GIVE_MONTH)(raw)
    parse_month(raw)


def _department(raw: Any) -> None:
    if raw is None:
        _named("department", *GIVE_MONTH)(raw)
    check_department(raw)


class OpenMonth(Contract):
    department: Department
    period: Period
    refusals = {"department": _department, "period": _month}


class MonthPath(Contract):
    department: Department
    period: Period
    refusals = {"department": check_department, "period": parse_month}


def _coefficient(raw: Any) -> None:
    try:
        Decimal(str(raw))
    except InvalidOperation:
        raise WorkflowError("coefficient must be a number", "coefficient 必须是数字") from None


class SetCoefficient(Contract):
    coefficient: Annotated[Decimal, Field(allow_inf_nan=True, description=(
        "Above 0, at most 3, with at most 3 decimals (the engine's bound: else a 422 naming it)"))]
    refusals = {"coefficient": _coefficient}


class DecideEvidence(Contract):
    decision: Literal["accept", "reject"]
    item: Annotated[Any, WithJsonSchema({"type": ["string", "null"], "description": (
        "accept: the deduction item of the sheet it counts as (else a 422 naming it)")})] = None
    refusals = {"decision": _named("decision", "decision must be 'accept' or 'reject'",
                                   "decision 必须是 accept 或 reject")}


class RowIdPath(Contract):
    """The ids in addresses (Flask's `id` converter): anything else is a 404."""

    case_id: RowId
    notification_id: RowId
    evidence_id: RowId


# -- answers ------------------------------------------------------------------------------------------------

Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def iso(clock: Clock, moment: datetime | None) -> str | None:
    """ISO 8601 in the organisation's time zone, with its offset."""
    return clock.local(moment).isoformat() if moment else None


def _time(clock: Clock, moment: datetime) -> str:
    return clock.local(moment).isoformat()


class Label(Answer):
    en: str
    zh: str


class Choice(Answer):
    value: str
    label: Label


class Reference(Answer):
    workflow: str
    final: bool


def _absent(value: Any) -> bool:
    return value is None


class FieldOut(Answer):
    name: str
    type: str = Field(json_schema_extra={"enum": list(FIELD_TYPES)})
    label: Label
    required: bool
    min: Any = Field(None, exclude_if=_absent, description="absent when the field has none")
    max: Any = Field(None, exclude_if=_absent)
    default: Any = Field(None, exclude_if=_absent)
    choices: list[Choice] | None = Field(None, exclude_if=_absent)
    ref: Reference | None = Field(None, exclude_if=_absent)

    @classmethod
    def of(cls, spec: FieldSpec, **override: Any) -> FieldOut:
        return cls.model_validate({
            "name": spec.name, "type": spec.type, "label": spec.label, "required": spec.required,
            "min": spec.min, "max": spec.max, "default": spec.default,
            "choices": [{"value": k, "label": v} for k, v in spec.choices.items()] if spec.choices else None,
            "ref": {"workflow": spec.ref.workflow, "final": spec.ref.final} if spec.ref else None, **override})


class InputOut(FieldOut):
    sets_case_field: bool


class Guard(Answer):
    when: str
    message: Label
    field: str | None


class TransitionOut(Answer):
    name: str
    label: Label
    from_: list[str] = Field(alias="from")
    to: str
    roles: list[str]
    four_eyes: bool
    inputs: list[InputOut]
    guards: list[Guard]

    @classmethod
    def of(cls, t: TransitionSpec) -> TransitionOut:
        return cls.model_validate({
            "name": t.name, "label": t.label, "from": list(t.sources), "to": t.dest, "roles": list(t.roles),
            "four_eyes": t.four_eyes,
            "inputs": [InputOut.model_validate({**FieldOut.of(i.spec, name=i.name, required=i.required)
                                                .model_dump(by_alias=True), "sets_case_field": i.to_case})
                       for i in t.inputs],
            "guards": [{"when": g.when, "message": g.message, "field": g.field} for g in t.guards]})


class Deadline(Answer):
    """Either a day of a month after the field's month (`months_after`, `day`), or the end of the day
    `days_after` days after the field's date."""

    field: str
    months_after: int | None = None
    day: int | None = None
    days_after: int | None = None


class Expiry(Answer):
    mark_overdue: bool
    notify: list[str]
    fire: str | None
    repeat: str | None


def _deadline(deadline: DeadlineSpec | None) -> dict[str, Any] | None:
    if deadline is None:
        return None
    if isinstance(deadline, DateDeadline):
        return {"field": deadline.field, "days_after": deadline.days_after}
    return {"field": deadline.field, "months_after": deadline.months_after, "day": deadline.day}


class TimerSpecOut(Answer):
    name: str
    label: Label
    start: list[dict[str, str]] = Field(description="{transition|enter|leave: name}")
    stop: list[dict[str, str]]
    duration: str | None = Field(description="e.g. 48h, 3d, 2wd (working days), 6wh (working hours)")
    deadline: Deadline | None
    when: str | None
    warn_before: str | None
    on_expiry: Expiry

    @classmethod
    def of(cls, t: TimerSpec) -> TimerSpecOut:
        return cls.model_validate({
            "name": t.name, "label": t.label,
            "start": [{e.kind: e.name} for e in t.start], "stop": [{e.kind: e.name} for e in t.stop],
            "duration": str(t.duration) if t.duration else None,
            "deadline": _deadline(t.deadline),
            "when": t.when, "warn_before": str(t.warn_before) if t.warn_before else None,
            "on_expiry": {"mark_overdue": t.mark_overdue, "notify": list(t.notify), "fire": t.fire,
                          "repeat": str(t.repeat) if t.repeat else None}})


class WorkflowSummary(Answer):
    key: str
    version: int
    title: Label
    sha256: str
    published_by: str
    published_at: Time

    @classmethod
    def of(cls, clock: Clock, version: WorkflowVersion, definition: Definition) -> WorkflowSummary:
        return cls(key=version.key, version=version.version, title=Label(**definition.title),
                   sha256=version.sha256, published_by=version.published_by,
                   published_at=_time(clock, version.published_at))


class Workflows(Answer):
    items: list[WorkflowSummary]


class Role(Answer):
    name: str
    label: Label


class Numbering(Answer):
    pattern: str
    reset: Literal["monthly", "yearly", "never"]
    assign_on: str


class State(Answer):
    name: str
    label: Label
    initial: bool
    final: bool


class WorkflowOut(WorkflowSummary):
    source: str | None = Field(description="The definition's YAML as published")
    roles: list[Role]
    opened_by: list[str]
    number: Numbering | None
    fields: list[FieldOut]
    states: list[State]
    transitions: list[TransitionOut]
    timers: list[TimerSpecOut]

    @classmethod
    def of_version(cls, clock: Clock, version: WorkflowVersion, d: Definition, openers: frozenset[str]) -> WorkflowOut:
        return cls.model_validate({
            **WorkflowSummary.of(clock, version, d).model_dump(),
            "source": d.source,
            "roles": [{"name": k, "label": v} for k, v in d.roles.items()],
            "opened_by": sorted(openers),
            "number": d.number.__dict__ if d.number else None,
            "fields": [FieldOut.of(f) for f in d.fields.values()],
            "states": [{"name": s.name, "label": s.label, "initial": s.initial, "final": s.final}
                       for s in d.states.values()],
            "transitions": [TransitionOut.of(t) for t in d.transitions.values()],
            "timers": [TimerSpecOut.of(t) for t in d.timers]})


class ActionOut(Answer):
    name: str
    label: Label
    to: str


class TimerOut(Answer):
    name: str
    label: Label | None
    started_at: Time
    due_at: Time
    warn_at: Time | None
    stopped_at: Time | None
    status: str = Field(json_schema_extra={"enum": list(TIMER_STATUSES)})


class CaseOut(Answer):
    id: int
    number: str | None
    name: Label = Field(description="What to call the case: its number, or a provisional reference until it has one")
    workflow: str
    version: int
    state: str
    state_label: Label
    final: bool
    data: dict[str, Any]
    lock_version: int
    created_by: str
    created_at: Time
    updated_at: Time
    available_actions: list[ActionOut] = Field(description="What the caller may do now")
    timers: list[TimerOut]
    overdue: bool

    @classmethod
    def of(cls, clock: Clock, c: Case, d: Definition, actions: Iterable[TransitionSpec]) -> CaseOut:
        specs = {s.name: s for s in d.timers}
        timers = [TimerOut(
            name=t.name, label=Label(**specs[t.name].label) if t.name in specs else None,
            started_at=_time(clock, t.started_at), due_at=_time(clock, t.due_at),
            warn_at=iso(clock, t.warn_at), stopped_at=iso(clock, t.stopped_at),
            status=timer_status(clock, t, specs.get(t.name))) for t in c.timers]
        return cls(
            id=c.id, number=c.number, name=Label(**numbering.case_name(c)), workflow=c.workflow_key,
            version=c.version.version, state=c.state,
            state_label=Label(**d.states[c.state].label), final=d.is_final(c.state), data=c.data,
            lock_version=c.lock_version, created_by=c.created_by, created_at=_time(clock, c.created_at),
            updated_at=_time(clock, c.updated_at),
            available_actions=[ActionOut(name=t.name, label=Label(**t.label), to=t.dest) for t in actions],
            timers=timers, overdue=any(t.status == "overdue" for t in timers))


class CasePage(Answer):
    items: list[CaseOut]
    page: int
    per_page: int
    total: int


class HistoryItem(Answer):
    seq: int
    kind: Literal["transition", "notice", "note", "migration", "assignment"]
    at: Time
    actor: str
    action: str
    from_: str | None = Field(alias="from")
    to: str
    inputs: dict[str, Any]
    comment: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, clock: Clock, h: HistoryEntry) -> HistoryItem:
        return cls.model_validate({
            "seq": h.seq, "kind": h.kind, "at": _time(clock, h.at), "actor": h.actor, "action": h.action,
            "from": h.from_state, "to": h.to_state, "inputs": h.inputs, "comment": h.comment,
            "prev_hash": h.prev_hash, "hash": h.hash})


class History(Answer):
    case_id: int
    items: list[HistoryItem]


class NotificationOut(Answer):
    id: int
    kind: str
    case_id: int | None
    message: Label
    created_at: Time
    read_at: Time | None

    @classmethod
    def of(cls, clock: Clock, n: Notification) -> NotificationOut:
        return cls(id=n.id, kind=n.kind, case_id=n.case_id, message=Label(**n.message),
                   created_at=_time(clock, n.created_at), read_at=iso(clock, n.read_at))


class Notifications(Answer):
    items: list[NotificationOut]
    unread: int


class Read(Answer):
    id: int
    read: Literal[True]


class OnTimeLate(Answer):
    on_time: int
    late: int


class LateTimerOut(Answer):
    case_id: int
    number: str | None
    timer: str
    due_at: Time
    stopped_at: Time
    held_by_state: str | None


class Sla(Answer):
    workflow: str
    month: Period
    cases: OnTimeLate
    timers: OnTimeLate
    late_by_state: dict[str, int]
    late: list[LateTimerOut]

    @classmethod
    def of(cls, clock: Clock, f: Figures) -> Sla:
        return cls(
            workflow=f.workflow, month=f.month, cases=OnTimeLate(on_time=f.cases_on_time, late=f.cases_late),
            timers=OnTimeLate(on_time=f.timers_on_time, late=f.timers_late), late_by_state=f.late_by_state,
            late=[LateTimerOut(case_id=t.case_id, number=t.number, timer=t.timer, due_at=_time(clock, t.due_at),
                               stopped_at=_time(clock, t.stopped_at), held_by_state=t.held_by_state)
                  for t in f.late])


# -- answers of the appraisal (web/appraisal/api.py) ------------------------------------------------------------

DecimalText = Annotated[str, Field(description="A decimal number as text")]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Opened(Answer):
    case_id: int
    employee: str


class Skipped(Answer):
    employee: str
    why: str


class OpenedMonth(Answer):
    opened: list[Opened]
    skipped: list[Skipped]


class SheetRow(Answer):
    employee: str
    case_id: int
    number: str | None
    state: str
    total: DecimalText | None
    grade: str | None
    pay_coefficient: DecimalText | None
    standard_pay: DecimalText | None
    performance_pay: DecimalText | None
    performance_report_required: bool
    interview_recorded: bool


class GradeShare(Answer):
    count: int
    share: DecimalText
    guideline: DecimalText
    deviation: DecimalText
    expected: DecimalText


class Month(Answer):
    department: str
    period: Period
    coefficient: DecimalText
    sheets: list[SheetRow]
    distribution: dict[str, GradeShare] = Field(description="grade -> its share against the guideline")

    @classmethod
    def of(cls, view: MonthView) -> Month:
        return cls(
            department=view.department, period=view.period, coefficient=str(view.coefficient),
            sheets=[SheetRow(
                employee=r.employee, case_id=r.case_id, number=r.number, state=r.state, total=_text(r.total),
                grade=r.grade, pay_coefficient=_text(r.pay_coefficient), standard_pay=_text(r.standard_pay),
                performance_pay=_text(r.performance_pay), performance_report_required=r.performance_report_required,
                interview_recorded=r.interview_recorded) for r in view.rows],
            distribution={grade: GradeShare(count=s.count, share=str(s.share), guideline=str(s.guideline),
                                            deviation=str(s.deviation), expected=str(s.expected))
                          for grade, s in view.distribution.items()})


class EvidenceOut(Answer):
    id: int
    person: str
    period: Period
    source_case_id: int
    source_action: str
    reason: Label
    status: str = Field(json_schema_extra={"enum": ["proposed", "accepted", "rejected"]})
    item: str | None
    decided_by: str | None

    @classmethod
    def of(cls, e: Evidence) -> EvidenceOut:
        return cls(id=e.id, person=e.person, period=e.period, source_case_id=e.source_case_id,
                   source_action=e.source_action, reason=Label(**e.reason), status=e.status, item=e.item,
                   decided_by=e.decided_by)


class EvidenceList(Answer):
    items: list[EvidenceOut]
