"""The in-memory shape of a workflow definition, as the loader builds it from YAML.

Everything here is immutable: a definition version never changes once published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Label = dict[str, str]  # {"en": ..., "zh": ...}

# Texts shown under an input to help whoever fills it in: a sentence or two, not a manual.
HELP_MAX_LENGTH = 300
# What a string field's value is, beyond its type: `month` (YYYY-MM) gets a month picker.
FIELD_FORMATS: dict[str, str] = {"month": "[0-9]{4}-(0[1-9]|1[0-2])"}  # format -> the pattern it implies
FIELD_TYPES = ("string", "text", "integer", "decimal", "date", "datetime", "enum", "boolean", "scoresheet",
               "file")
DURATION_UNITS = ("h", "d", "wd", "wh")
SYSTEM_ROLE = "system"
# The records a timer can leave on a case: the reminder 催办单 and the late-closure inquiry 洽办单.
NOTICES: dict[str, Label] = {
    "reminder": {"en": "Reminder notice", "zh": "催办单"},
    "inquiry": {"en": "Late-closure inquiry", "zh": "洽办单"},
}
HOLDERS = "holders"  # whoever may act on the case now
LATE_HOLDERS = "late_holders"  # whoever held the case while it was late


@dataclass(frozen=True)
class Ref:
    workflow: str
    final: bool = False


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    label: Label
    required: bool = False
    min: Any = None
    max: Any = None
    choices: dict[str, Label] | None = None
    default: Any = None
    ref: Ref | None = None
    pattern: str | None = None  # string/text only: a regular expression the whole value must match
    template_field: str | None = None  # scoresheet only: the field naming the sheet's template
    computed: str | None = None  # an expression the engine evaluates after every move; never an input
    user_role: str | None = None  # string only: the value names an active user who holds this role
    accept: tuple[str, ...] | None = None  # file only: the types taken (within the settings' ATTACHMENT_TYPES)
    help: Label | None = None  # shown under the input in forms
    format: str | None = None  # string only: one of FIELD_FORMATS
    line: int = 0


@dataclass(frozen=True)
class Series:
    """Cases that follow each other: the same `key` fields, one per `period` (YYYY-MM)."""

    key: tuple[str, ...]
    period: str


@dataclass(frozen=True)
class InputSpec:
    """What a transition asks for. `to_case` inputs are case fields and land in the case data."""

    name: str
    spec: FieldSpec
    required: bool
    to_case: bool


@dataclass(frozen=True)
class GuardSpec:
    when: str
    message: Label
    field: str | None = None
    uses_inputs: bool = False
    line: int = 0


@dataclass(frozen=True)
class DeductionProposal:
    """An effect of a transition: propose a deduction on the monthly sheet of the person named in `person`."""

    person: str
    reason: Label
    when: str | None = None


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: Label
    initial: bool = False
    final: bool = False
    line: int = 0


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    label: Label
    four_eyes: bool = False
    assignee_field: str | None = None  # only the person named in this case field may take it
    inputs: tuple[InputSpec, ...] = ()
    guards: tuple[GuardSpec, ...] = ()
    proposals: tuple[DeductionProposal, ...] = ()
    line: int = 0

    @property
    def system_only(self) -> bool:
        return self.roles == (SYSTEM_ROLE,)


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: Literal["h", "d", "wd", "wh"]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Deadline:
    """A calendar-anchored due date: `day` of the month `months_after` the month named by `field`."""

    field: str
    months_after: int
    day: int

    def __str__(self) -> str:
        return f"day {self.day}, {self.months_after} month(s) after {self.field}"


@dataclass(frozen=True)
class DateDeadline(Deadline):
    """A due date read from a date field: the end of the day `days_after` days after the field's date.

    002 §4.1 needs it twice: delivery by the customer's promised date (days_after 0), and at most 15 days
    after the request date, however late the request was entered. The month-anchored fields keep their
    defaults, so code that only knows `Deadline` still reads a whole value.
    """

    months_after: int = 0
    day: int = 0
    days_after: int = 0

    def __str__(self) -> str:
        return f"end of {self.field}" + (f" + {self.days_after} day(s)" if self.days_after else "")


@dataclass(frozen=True)
class Event:
    kind: Literal["enter", "leave", "transition"]
    name: str


@dataclass(frozen=True)
class TimerSpec:
    name: str
    label: Label
    start: tuple[Event, ...]
    stop: tuple[Event, ...]
    duration: Duration | None = None
    deadline: Deadline | None = None
    when: str | None = None
    warn_before: Duration | None = None
    mark_overdue: bool = True
    notify: tuple[str, ...] = ()
    fire: str | None = None
    repeat: Duration | None = None
    notice: str | None = None
    late_notice: str | None = None
    late_notify: tuple[str, ...] = ()
    line: int = 0

    @property
    def length(self) -> str:
        return str(self.duration or self.deadline)


@dataclass(frozen=True)
class NumberSpec:
    pattern: str
    reset: Literal["monthly", "yearly", "never"] = "never"
    assign_on: str = "create"


@dataclass(frozen=True)
class TableSpec:
    """A decision table (`tables:`): called as `name(value)` in an expression, it gives the value of the
    row for `value`, or None where no row applies.

    `rows` match a value exactly (an enum's choices); `ranges` hold from their bound, inclusive, up to the
    next row's bound (loss amounts: who approves).
    """

    name: str
    by: str
    rows: tuple[tuple[str, Any], ...] = ()
    ranges: tuple[tuple[Decimal, Any], ...] = ()
    gives: str | None = None
    line: int = 0

    def __call__(self, value: Any) -> Any:
        if not self.ranges:
            return next((result for key, result in self.rows if key == value), None)
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return None
        found = None
        for bound, result in self.ranges:
            if value < bound:
                break
            found = result
        return found


@dataclass(frozen=True)
class AccessSpec:
    """Who may read a workflow's cases (`access:` in the definition); acting needs reading too.

    `readers` read every case; None means every role the definition declares, less the department roles.
    `people` are fields naming users who read the case they are named on. `department_roles` read and act
    only on cases whose `department_field` names their own department (from the staff register).
    `managers` run the workflow's administration, such as opening a month of cases at once.
    """

    readers: tuple[str, ...] | None = None
    people: tuple[str, ...] = ()
    department_field: str | None = None
    department_roles: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Definition:
    key: str
    title: Label
    roles: dict[str, Label]
    fields: dict[str, FieldSpec]
    states: dict[str, StateSpec]
    transitions: dict[str, TransitionSpec]
    timers: tuple[TimerSpec, ...] = ()
    number: NumberSpec | None = None
    source: str | None = None
    open_roles: tuple[str, ...] = ()  # empty: whoever may take a step out of the initial state
    unique: tuple[str, ...] = ()  # fields whose values together may open only one case
    open_guards: tuple[GuardSpec, ...] = ()  # conditions on the data a case is opened with
    series: Series | None = None
    access: AccessSpec = AccessSpec()
    summary: tuple[str, ...] = ()  # fields a list shows beside the case number (e.g. the customer)
    constants: dict[str, Any] = field(default_factory=dict)  # named values expressions read by name
    tables: dict[str, TableSpec] = field(default_factory=dict)  # decision tables expressions call by name
    _outgoing: dict[str, tuple[TransitionSpec, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for state in self.states:
            self._outgoing[state] = tuple(t for t in self.transitions.values() if state in t.sources)

    @property
    def initial_state(self) -> str:
        return next(s.name for s in self.states.values() if s.initial)

    def is_final(self, state: str) -> bool:
        return self.states[state].final

    def transitions_from(self, state: str) -> tuple[TransitionSpec, ...]:
        return self._outgoing.get(state, ())

    @property
    def opening_fields(self) -> tuple[FieldSpec, ...]:
        """What may be given when a case is opened: the required fields, and those no step asks for.

        A field that a step enters (an R&D opinion, a decision) belongs to whoever takes that step.
        """
        entered_later = {i.name for t in self.transitions.values() for i in t.inputs if i.to_case}
        return tuple(
            f for f in self.fields.values()
            if f.computed is None and (f.required or f.name not in entered_later)
        )
