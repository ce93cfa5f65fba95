"""The workflow definition format (docs/definitions.md) as data: one `Shape` per mapping of the file."""

from __future__ import annotations

from dataclasses import replace

from ..schema import DURATION_UNITS, FIELD_FORMATS, FIELD_TYPES, HELP_MAX_LENGTH, NOTICES, SYSTEM_ROLE
from . import (
    BOOLEAN,
    EXPRESSION,
    NAME,
    NUMBER,
    SCALAR,
    TEXT,
    Json,
    Key,
    Shape,
    listed,
    named,
    names,
    ref,
    schema_document,
)

DURATION: Json = {
    "type": "string", "pattern": rf"^\s*[1-9][0-9]*\s*({'|'.join(DURATION_UNITS)})\s*$",
    "description": "N h (hours), N d (days), N wd (working days) or N wh (working hours)",
}
LABEL = ref("label")
_HELP_TEXT: Json = {"type": "string", "minLength": 1, "maxLength": HELP_MAX_LENGTH}
HELP_SCHEMA: Json = {
    "type": "object", "description": f"a help text in English and Chinese, each at most {HELP_MAX_LENGTH} characters",
    "properties": {"en": _HELP_TEXT, "zh": _HELP_TEXT}, "required": ["en", "zh"], "additionalProperties": False,
}
HELP = ref("help")
EVENT_KINDS = ("enter", "leave", "transition")
EVENT: Json = {
    "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
    "properties": {kind: NAME for kind in EVENT_KINDS},
    "description": "enter: STATE, leave: STATE or transition: NAME",
}
EVENTS: Json = {"oneOf": [EVENT, {"type": "array", "items": EVENT, "minItems": 1}]}
BOUND: Json = {"type": ["number", "string"], "description": "a number, or an ISO date or date-time"}

_FIELD_KEYS = (
    Key("type", {"enum": list(FIELD_TYPES)}, "the type of the value", required=True),
    Key("label", LABEL, "what forms and lists call it", required=True),
    Key("required", BOOLEAN, "required when the case is opened (for an input: default true)"),
    Key("min", BOUND, "string/text: shortest length; numbers, dates: smallest value"),
    Key("max", BOUND, "string/text: longest length; numbers, dates: largest value"),
    Key("pattern", TEXT, "string/text: a regular expression the whole value must match"),
    Key("choices", named(LABEL), "enum only: the choices and their labels"),
    Key("default", SCALAR, "a value the case starts with; must itself be valid"),
    Key("ref", ref("ref"), "string only: the value names a case of another workflow"),
    Key("template_field", NAME, "scoresheet only: the field naming the sheet's template"),
    Key("computed", EXPRESSION, "worked out after every move, never entered"),
    Key("user_role", NAME, "string only: the value names an active user holding this role"),
    Key("accept", {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+/[a-z0-9.+-]+$"},
                  "minItems": 1, "uniqueItems": True},
        "file only: the types taken, e.g. [image/png, application/pdf]; within the settings' ATTACHMENT_TYPES"),
    Key("help", HELP, "shown under the input in forms: what to enter, and why"),
    Key("format", {"enum": list(FIELD_FORMATS)}, "string only: month (YYYY-MM), entered with a month picker"),
)
_FIELD_RULES: Json = {"allOf": [
    {"if": {"properties": {"type": {"const": "enum"}}}, "then": {"required": ["choices"]}},
    {"if": {"properties": {"type": {"const": "scoresheet"}}}, "then": {"required": ["template_field"]}},
    {"if": {"required": ["accept"]}, "then": {"properties": {"type": {"const": "file"}}}},
]}
FIELD = Shape("field", "a field of the case's data", _FIELD_KEYS, _FIELD_RULES)
REF = Shape("ref", "the case of another workflow a value names", (
    Key("workflow", NAME, "the key of that workflow", required=True),
    Key("final", BOOLEAN, "the case must also be in a final state"),
))
_INPUT_ONLY = (
    Key("name", NAME, "a transition-only input: kept in the history, not on the case"),
    Key("field", NAME, "a case field: the value is written to the case's data"),
)
INPUT = Shape(
    "input", "what a transition's form asks: a case field, or a named input of its own",
    _INPUT_ONLY + tuple(replace(k, required=False) for k in _FIELD_KEYS if k.name not in ("default", "computed")),
    {"oneOf": [
        {"required": ["field"], "propertyNames": {"enum": ["field", "required", "label", "help"]}},
        {"required": ["name", "type", "label"], "not": {"required": ["field"]}},
    ]},
)
# The keys of a case-field input beyond `field`: its type and limits come from the field.
# `help` there is this step's own help, in place of the field's.
CASE_FIELD_INPUT_KEYS = {"field", "required", "label", "help"}

STATE = Shape("state", "a state of the case", (
    Key("label", LABEL, "what the state is called", required=True),
    Key("initial", BOOLEAN, "the state a case opens in: exactly one"),
    Key("final", BOOLEAN, "a state with no way out"),
))
GUARD = Shape("guard", "a condition that must hold", (
    Key("when", EXPRESSION, "the condition", required=True),
    Key("field", NAME, "the input the message belongs to"),
    Key("message", LABEL, "what the person is told when it does not hold", required=True),
))
PROPOSAL = Shape("proposal", "a proposed deduction on the monthly sheet of the person a field names", (
    Key("person", NAME, "the field naming the person", required=True),
    Key("reason", LABEL, "why", required=True),
    Key("when", EXPRESSION, "only if this holds"),
))
EFFECT = Shape("effect", "what else happens when the transition is taken", (
    Key("propose_deduction", ref("proposal"), "propose a deduction", required=True),
))
TRANSITION = Shape("transition", "a move from state to state", (
    Key("name", NAME, "unique within the definition; the action name in the API", required=True),
    Key("from", names(), "a state or a list of states", required=True),
    Key("to", NAME, "the state it leads to", required=True),
    Key("roles", names(), "who may take it; [system]: only a timer fires it", required=True),
    Key("four_eyes", BOOLEAN, "whoever entered the current state may not take it"),
    Key("assignee_field", NAME, "only the user named in this field may take it"),
    Key("label", LABEL, "what the action is called", required=True),
    Key("inputs", listed(ref("input")), "what the form asks"),
    Key("guards", listed(ref("guard")), "conditions checked in order, after the inputs"),
    Key("effects", listed(ref("effect")), "what else happens"),
))
# Either a day of a month after the month a field names (by the 10th of the month after the period), or
# the end of a day counted from a date field (by the promised date; 15 days after the request date).
DEADLINE = Shape("deadline", "a due date read from a field", (
    Key("field", NAME, "the field naming the month (YYYY-MM), or with days_after a date field", required=True),
    Key("months_after", {"type": "integer", "minimum": 0, "maximum": 12}, "months after that month"),
    Key("day", {"type": "integer", "minimum": 1, "maximum": 28}, "the day of that month"),
    Key("days_after", {"type": "integer", "minimum": 0, "maximum": 366},
        "due when the day this many days after the field's date is over (0: that day)"),
), {"oneOf": [{"required": ["months_after", "day"], "not": {"required": ["days_after"]}},
              {"required": ["days_after"], "not": {"anyOf": [{"required": ["months_after"]}, {"required": ["day"]}]}}]})
_WHO = names()
EXPIRY = Shape("on_expiry", "what happens when the timer expires", (
    Key("mark_overdue", BOOLEAN, "default true; false: the expiry is no lateness"),
    Key("notify", _WHO, "roles; `holders`: whoever may act on the case now"),
    Key("fire", NAME, "a transition the timer takes itself, as `system`"),
    Key("repeat", DURATION, "repeat the notice every period until the timer stops"),
    Key("notice", {"enum": list(NOTICES)}, "record a notice in the history"),
))
LATE_STOP = Shape("on_late_stop", "what happens when the timer stops after it expired", (
    Key("notice", {"enum": list(NOTICES)}, "record a notice in the history"),
    Key("notify", _WHO, "roles; `late_holders`: whoever held the case while it was late"),
))
TIMER = Shape("timer", "a deadline on part of the process", (
    Key("name", NAME, "unique within the definition", required=True),
    Key("label", LABEL, "what the timer is called", required=True),
    Key("start", EVENTS, "the event(s) that start it", required=True),
    Key("stop", EVENTS, "the event(s) that stop it; a final state stops it too", required=True),
    Key("when", EXPRESSION, "the timer starts only if this holds"),
    Key("duration", DURATION, "how long it runs"),
    Key("deadline", ref("deadline"), "instead of duration: a due date read from a field"),
    Key("warn_before", DURATION, "notify this long before expiry"),
    Key("on_expiry", ref("on_expiry"), "what happens at expiry"),
    Key("on_late_stop", ref("on_late_stop"), "what happens when it stops late"),
), {"oneOf": [{"required": ["duration"]}, {"required": ["deadline"]}]})
NUMBER_SHAPE = Shape("number", "the case number", (
    Key("pattern", {"type": "string", "pattern": r"\{seq(:[0-9]+)?\}"},
        "tokens {YYYY} {YY} {MM} {DD} {seq} {seq:N}", required=True),
    Key("reset", {"enum": ["monthly", "yearly", "never"]}, "when {seq} restarts at 1"),
    Key("assign_on", NAME, "create, or the transition that assigns the number"),
))
SERIES = Shape("series", "cases that follow each other month by month", (
    Key("key", names(), "the fields that are the same along the series", required=True),
    Key("period", NAME, "the field holding the month", required=True),
))
ACCESS = Shape("access", "who reads the cases, beyond the auditors", (
    Key("readers", names(), "roles that read every case"),
    Key("people", names(), "fields naming users who read the case they are named on"),
    Key("department_field", NAME, "the field naming the case's department"),
    Key("department_roles", names(), "roles that read and act only on their own department's cases"),
    Key("managers", names(), "roles that run the workflow's administration"),
))
RANGE = Shape("range", "one row of a range table: from this bound (inclusive) up to the next row's", (
    Key("from", NUMBER, "the lower bound", required=True),
    Key("value", SCALAR, "what the table gives in this range", required=True),
))
TABLE = Shape("table", "a decision table: NAME(value) gives the row's value, None where no row applies", (
    Key("by", NAME, "the field the table is looked up by (an enum, string, integer or decimal field)", required=True),
    Key("gives", NAME, "an enum field whose choices the values must be"),
    Key("rows", named(SCALAR), "by an enum or string field: value → what the table gives"),
    Key("ranges", {"type": "array", "items": ref("range"), "minItems": 1},
        "by a number field: rows in ascending order of their bounds"),
), {"oneOf": [{"required": ["rows"]}, {"required": ["ranges"]}]})

TOP = Shape("definition", "a workflow definition (docs/definitions.md)", (
    Key("key", NAME, "equals the file name without .yaml", required=True),
    Key("title", LABEL, "the workflow's name", required=True),
    Key("source", {"type": "string"}, "where the rules come from"),
    Key("roles", named(LABEL, (SYSTEM_ROLE,)), "every role the file names", required=True),
    Key("open_roles", names(), "who may open a case (default: whoever may act in the initial state)"),
    Key("open_guards", listed(ref("guard")), "conditions on the data a case is opened with"),
    Key("unique", names(), "at most one case with the same values of these fields"),
    Key("series", ref("series"), "cases that follow month by month"),
    Key("number", ref("number"), "the case number pattern"),
    Key("constants", named(SCALAR), "named values guards and expressions read by name"),
    Key("tables", named(ref("table")), "decision tables guards and expressions call by name"),
    Key("fields", named(ref("field")), "the case's data"),
    Key("summary", names(), "fields lists show beside the case number"),
    Key("states", named(ref("state")), "the states of a case", required=True),
    Key("transitions", listed(ref("transition")), "the moves between states", required=True),
    Key("timers", listed(ref("timer")), "deadlines"),
    Key("access", ref("access"), "who reads the cases"),
))
SHAPES = (
    FIELD, REF, INPUT, STATE, GUARD, PROPOSAL, EFFECT, TRANSITION, DEADLINE, EXPIRY, LATE_STOP, TIMER,
    NUMBER_SHAPE, SERIES, ACCESS, RANGE, TABLE,
)
SCHEMA_ID = "https://aftersales.invalid/schemas/definition.schema.json"


def json_schema() -> Json:
    return schema_document(SCHEMA_ID, "Workflow definition", TOP, SHAPES, {"help": HELP_SCHEMA})
