"""Reading and validating workflow definitions (the format is described in docs/definitions.md).

`parse()` never raises on bad input: it returns every problem it finds, each with the file, the line
and a reason, so a process owner can fix a file in one pass. A definition with any problem is not built.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from . import expressions, values
from .expressions import CONTEXT_FUNCTIONS
from .reader import Checker, DefinitionInvalid, LList, LMap, Problem, read_checked
from .schema import (
    FIELD_TYPES,
    HOLDERS,
    LATE_HOLDERS,
    NOTICES,
    SYSTEM_ROLE,
    AccessSpec,
    Deadline,
    DeductionProposal,
    Definition,
    Event,
    FieldSpec,
    GuardSpec,
    InputSpec,
    NumberSpec,
    Ref,
    Series,
    StateSpec,
    TimerSpec,
    TransitionSpec,
)

SHIPPED_DIR = Path(__file__).parent
T = TypeVar("T")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_DURATION = re.compile(r"^\s*(\d+)\s*(h|d|wd|wh)\s*$")
_NUMBER_TOKEN = re.compile(r"\{([^{}]*)\}")
_NUMBER_TOKENS = re.compile(r"^(YYYY|YY|MM|DD|seq|seq:\d+)$")


# --- the checker -------------------------------------------------------------------------------

TOP_KEYS = {
    "key", "title", "source", "roles", "open_roles", "open_guards", "unique", "series", "number", "fields", "summary",
    "states", "transitions", "timers", "access",
}
ACCESS_KEYS = {"readers", "people", "department_field", "department_roles", "managers"}
FIELD_KEYS = {
    "type", "label", "required", "min", "max", "pattern", "choices", "default", "ref", "template_field", "computed",
    "user_role",
}
INPUT_KEYS = (FIELD_KEYS - {"default", "computed"}) | {"name", "field"}
STATE_KEYS = {"label", "initial", "final"}
TRANSITION_KEYS = {
    "name", "from", "to", "roles", "four_eyes", "assignee_field", "label", "inputs", "guards", "effects",
}
EFFECT_KEYS = {"propose_deduction"}
PROPOSAL_KEYS = {"person", "reason", "when"}
GUARD_KEYS = {"when", "field", "message"}
TIMER_KEYS = {
    "name", "label", "start", "stop", "when", "duration", "deadline", "warn_before", "on_expiry", "on_late_stop",
}
EXPIRY_KEYS = {"mark_overdue", "notify", "fire", "repeat", "notice"}
LATE_STOP_KEYS = {"notice", "notify"}
NUMBER_KEYS = {"pattern", "reset", "assign_on"}
DEADLINE_KEYS = {"field", "months_after", "day"}
EVENT_KINDS = ("enter", "leave", "transition")


def _check_field(c: Checker, name: str, raw: LMap, line: int, what: str, allowed: set[str]) -> FieldSpec | None:
    m = c.mapping(raw, line, what, allowed, {"type", "label"})
    if m is None:
        return None
    ftype = m.get("type")
    if ftype not in FIELD_TYPES:
        c.add(c.at(m, "type"), "bad_value", f"{what}: type {ftype!r} is not one of {', '.join(FIELD_TYPES)}")
        return None
    label = c.label(m.get("label"), c.at(m, "label"), f"{what}.label")
    choices = None
    if ftype == "enum":
        raw_choices = m.get("choices")
        if not isinstance(raw_choices, LMap) or not raw_choices:
            c.add(c.at(m, "choices") if "choices" in m else m.line, "bad_field", f"{what}: an enum needs choices")
            return None
        choices = {}
        for choice, choice_label in raw_choices.items():
            choice_line = raw_choices.key_lines[choice]
            if c.name(choice, choice_line, f"{what} choice"):
                choices[choice] = c.label(choice_label, choice_line, f"{what} choice {choice!r}")
    elif "choices" in m:
        c.add(c.at(m, "choices"), "bad_field", f"{what}: only an enum field has choices")
    ref = None
    if "ref" in m:
        r = c.mapping(m["ref"], c.at(m, "ref"), f"{what}.ref", {"workflow", "final"}, {"workflow"})
        if r is not None and c.name(r.get("workflow"), c.at(r, "workflow"), f"{what}.ref.workflow"):
            ref = Ref(r["workflow"], c.boolean(r, "final", f"{what}.ref"))
        if ftype != "string":
            c.add(c.at(m, "ref"), "bad_field", f"{what}: only a string field can refer to another case")
    pattern = m.get("pattern")
    if pattern is not None:
        try:
            if ftype not in ("string", "text") or not isinstance(pattern, str):
                raise re.error("a pattern is text, on a string or text field")
            re.compile(pattern)
        except re.error as exc:
            c.add(c.at(m, "pattern"), "bad_field", f"{what}: pattern {pattern!r} is not usable: {exc}")
            return None
    template_field = m.get("template_field")
    if (ftype == "scoresheet") != ("template_field" in m):
        c.add(c.at(m, "template_field") if "template_field" in m else m.line, "bad_field",
              f"{what}: a scoresheet field, and only one, names its template_field")
        return None
    computed = m.get("computed")
    if computed is not None and (not isinstance(computed, str) or "required" in m or "default" in m):
        c.add(c.at(m, "computed"), "bad_field",
              f"{what}: computed must be an expression, and a computed field is neither required nor defaulted")
        return None
    user_role = m.get("user_role")
    if user_role is not None:
        if ftype != "string":
            c.add(c.at(m, "user_role"), "bad_field", f"{what}: only a string field names a user")
            return None
        if not c.name(user_role, c.at(m, "user_role"), f"{what}.user_role"):
            return None
    spec = FieldSpec(
        name=name, type=ftype, label=label, required=c.boolean(m, "required", what, default=False),
        min=m.get("min"), max=m.get("max"), choices=choices, ref=ref, line=line,
        template_field=template_field, computed=computed, pattern=pattern, user_role=user_role,
    )
    for bound in ("min", "max"):
        value = m.get(bound)
        if value is None:
            continue
        if ftype in ("enum", "boolean", "scoresheet"):
            c.add(c.at(m, bound), "bad_field", f"{what}: a {ftype} field has no {bound}")
            return None
        try:
            typed = values.coerce_bound(spec, value)
            if ftype in ("string", "text", "integer") and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError
        except (ValueError, TypeError, ArithmeticError):
            c.add(c.at(m, bound), "bad_field", f"{what}: {bound} {value!r} does not fit a {ftype} field")
            return None
        del typed
    if spec.min is not None and spec.max is not None:
        if values.coerce_bound(spec, spec.min) > values.coerce_bound(spec, spec.max):
            c.add(c.at(m, "min"), "bad_field", f"{what}: min {spec.min!r} is greater than max {spec.max!r}")
            return None
    if "default" in m:
        try:
            default = values.coerce(spec, m["default"], ZoneInfo("UTC"))
        except values.InvalidValue as exc:
            c.add(c.at(m, "default"), "bad_field", f"{what}: default {m['default']!r} {exc.messages['en']}")
            return None
        spec = FieldSpec(**{**spec.__dict__, "default": values.to_json(default)})
    return spec


def _events(c: Checker, raw: Any, line: int, what: str) -> list[tuple[Event, int]]:
    items = raw if isinstance(raw, LList) else LList([raw])
    lines = raw.item_lines if isinstance(raw, LList) else [line]
    out = []
    for item, item_line in zip(items, lines, strict=True):
        m = c.mapping(item, item_line, what, set(EVENT_KINDS))
        if m is None:
            continue
        if len(m) != 1:
            c.add(m.line, "bad_value", f"{what} must name exactly one of {', '.join(EVENT_KINDS)}")
            continue
        kind, name = next(iter(m.items()))
        if kind in EVENT_KINDS and c.name(name, c.at(m, kind), what):
            out.append((Event(kind, name), c.at(m, kind)))
    return out


def _known_field(c: Checker, fields: dict[str, FieldSpec], raw_fields: Any, name: Any, line: int, what: str) -> bool:
    if isinstance(name, str) and name in fields:
        return True
    if isinstance(name, str) and name in (raw_fields or {}):
        return False  # declared but broken: reported already
    c.add(line, "unknown_field", f"{what} names unknown field {name!r}")
    return False


def _guards(
    c: Checker, raw_guards: Any, what: str, fields: set[str], input_names: set[str], context: tuple[str, ...]
) -> list[GuardSpec]:
    guards: list[GuardSpec] = []
    if raw_guards is not None and not isinstance(raw_guards, LList):
        c.add(getattr(raw_guards, "line", 0), "bad_value", f"the guards of {what} must be a list")
        return guards
    for raw_guard, gline in zip(raw_guards or [], getattr(raw_guards, "item_lines", []), strict=True):
        gm = c.mapping(raw_guard, gline, f"a guard of {what}", GUARD_KEYS, {"when", "message"})
        if gm is None:
            continue
        expr = gm.get("when")
        if not isinstance(expr, str):
            c.add(c.at(gm, "when"), "guard_syntax", f"a guard of {what} must be an expression in text")
            continue
        try:
            expressions.check(expr, fields | input_names, context)
        except expressions.ExpressionError as exc:
            c.add(c.at(gm, "when"), exc.code, f"{what}: {exc}")
            continue
        gfield = gm.get("field")
        if gfield is not None and gfield not in input_names | fields:
            c.add(c.at(gm, "field"), "unknown_field", f"a guard of {what} points at unknown input {gfield!r}")
        guards.append(GuardSpec(
            when=expr, field=gfield, line=c.at(gm, "when"),
            message=c.label(gm.get("message"), c.at(gm, "message"), f"a guard message of {what}"),
            uses_inputs=bool(expressions.names_used(expr, context) & input_names),
        ))
    return guards


def _effects(
    c: Checker, m: LMap, what: str, fields: dict[str, FieldSpec], raw_fields: Any, context: tuple[str, ...]
) -> list[DeductionProposal]:
    raw = m.get("effects")
    if raw is None:
        return []
    if not isinstance(raw, LList):
        c.add(c.at(m, "effects"), "bad_value", f"{what} effects must be a list")
        return []
    proposals = []
    for item, line in zip(raw, raw.item_lines, strict=True):
        em = c.mapping(item, line, f"an effect of {what}", EFFECT_KEYS, EFFECT_KEYS)
        if em is None or "propose_deduction" not in em:
            continue
        pm = c.mapping(em["propose_deduction"], c.at(em, "propose_deduction"), f"{what} propose_deduction",
                       PROPOSAL_KEYS, {"person", "reason"})
        if pm is None or not _known_field(c, fields, raw_fields, pm.get("person"), c.at(pm, "person"),
                                          f"{what} propose_deduction person"):
            continue
        when = pm.get("when")
        if when is not None:
            try:
                expressions.check(str(when), set(fields), context)
            except expressions.ExpressionError as exc:
                c.add(c.at(pm, "when"), exc.code, f"{what} propose_deduction when: {exc}")
                continue
        proposals.append(DeductionProposal(
            person=pm["person"], reason=c.label(pm.get("reason"), c.at(pm, "reason"), f"{what} reason"),
            when=when,
        ))
    return proposals


def _notice(c: Checker, m: LMap, what: str) -> str | None:
    value = m.get("notice")
    if value is not None and value not in NOTICES:
        c.add(c.at(m, "notice"), "bad_value", f"{what} notice {value!r} must be one of {', '.join(NOTICES)}")
        return None
    return value


def _parse(c: Checker, doc: Any, expected_key: str | None) -> Definition | None:
    top = c.mapping(doc, 1, "the definition", TOP_KEYS, {"key", "title", "roles", "states", "transitions"})
    if top is None:
        return None

    key = top.get("key")
    if "key" in top and c.name(key, c.at(top, "key"), "key") and expected_key and key != expected_key:
        c.add(c.at(top, "key"), "key_mismatch", f"key {key!r} differs from the file name {expected_key!r}")
    title = c.label(top.get("title"), c.at(top, "title"), "title")
    if "source" in top and not isinstance(top["source"], str):
        c.add(c.at(top, "source"), "bad_value", "source must be text")

    # roles
    roles: dict[str, dict[str, str]] = {}
    raw_roles = c.mapping(top.get("roles", LMap()), c.at(top, "roles"), "roles", set(top.get("roles") or ()))
    for role, role_label in (raw_roles or {}).items():
        role_line = raw_roles.key_lines[role]  # type: ignore[union-attr]
        if role == SYSTEM_ROLE:
            c.add(role_line, "bad_value", "'system' is reserved for the timer runtime and cannot be declared")
        elif c.name(role, role_line, "role"):
            roles[role] = c.label(role_label, role_line, f"role {role!r}")

    # fields
    fields: dict[str, FieldSpec] = {}
    raw_fields = top.get("fields", LMap())
    fields_map = c.mapping(raw_fields, c.at(top, "fields"), "fields", set(raw_fields or ()))
    if fields_map is not None:
        for fname, raw in fields_map.items():
            fline = fields_map.key_lines[fname]
            if c.name(fname, fline, "field"):
                spec = _check_field(c, fname, raw, fline, f"field {fname!r}", FIELD_KEYS)
                if spec:
                    fields[fname] = spec

    # what the fields refer to, now that all are known
    series = None
    if "series" in top:
        sm = c.mapping(top["series"], c.at(top, "series"), "series", {"key", "period"}, {"key", "period"})
        if sm is not None:
            keys = [k for k, line in c.names_list(sm.get("key"), c.at(sm, "key"), "series key")
                    if _known_field(c, fields, raw_fields, k, line, "series key")]
            period = sm.get("period")
            if _known_field(c, fields, raw_fields, period, c.at(sm, "period"), "series period") and keys:
                series = Series(tuple(keys), str(period))
    context = CONTEXT_FUNCTIONS if series else ()
    for spec in fields.values():
        if spec.template_field is not None:
            _known_field(c, fields, raw_fields, spec.template_field, spec.line, f"field {spec.name!r} template_field")
        if spec.computed is not None:
            try:
                expressions.check(spec.computed, set(fields), context)
            except expressions.ExpressionError as exc:
                c.add(spec.line, exc.code, f"field {spec.name!r} computed: {exc}")
    open_guards = _guards(c, top.get("open_guards"), "opening a case", set(fields), set(), context)
    # the fields a list shows beside the case number, so that staff recognise a case at a glance
    summary = [k for k, line in c.names_list(top.get("summary"), c.at(top, "summary"), "summary")
               if _known_field(c, fields, raw_fields, k, line, "summary")]
    unique = []
    if "unique" in top:
        unique = [k for k, line in c.names_list(top["unique"], c.at(top, "unique"), "unique")
                  if _known_field(c, fields, raw_fields, k, line, "unique")]

    # states
    states: dict[str, StateSpec] = {}
    raw_states = top.get("states")
    states_map = c.mapping(raw_states, c.at(top, "states"), "states", set(raw_states or ()))
    if states_map is not None:
        for sname, raw in states_map.items():
            sline = states_map.key_lines[sname]
            if not c.name(sname, sline, "state"):
                continue
            m = c.mapping(raw, sline, f"state {sname!r}", STATE_KEYS, {"label"})
            if m is None:
                continue
            states[sname] = StateSpec(
                name=sname, label=c.label(m.get("label"), c.at(m, "label"), f"state {sname!r} label"),
                initial=c.boolean(m, "initial", f"state {sname!r}"), final=c.boolean(m, "final", f"state {sname!r}"),
                line=sline,
            )
        initials = [s for s in states.values() if s.initial]
        if not initials and states:
            c.add(c.at(top, "states"), "no_initial_state", "no state is marked 'initial: true'")
        for extra in initials[1:]:
            c.add(extra.line, "multiple_initial_states",
                  f"state {extra.name!r} is initial too; {initials[0].name!r} already is")
        for s in states.values():
            if s.initial and s.final:
                c.add(s.line, "bad_value", f"state {s.name!r} cannot be both initial and final")

    def known_state(name: str, line: int, what: str) -> bool:
        if name in states:
            return True
        if raw_states is not None and name in raw_states:
            return True  # declared, but broken: already reported
        c.add(line, "unknown_state", f"{what} names unknown state {name!r}; known: {', '.join(states)}")
        return False

    def known_role(name: str, line: int, what: str, allow: tuple[str, ...] = ()) -> bool:
        if name in roles or name in allow:
            return True
        c.add(line, "unknown_role", f"{what} names role {name!r}, which is not declared under roles")
        return False

    # transitions
    transitions: dict[str, TransitionSpec] = {}
    from_lines: dict[str, int] = {}
    edges: list[tuple[list[str], str]] = []
    raw_transitions = top.get("transitions")
    if not isinstance(raw_transitions, LList):
        if "transitions" in top:
            c.add(c.at(top, "transitions"), "bad_value", "transitions must be a list")
        raw_transitions = LList()
        raw_transitions.item_lines = []
    for raw, tline in zip(raw_transitions, raw_transitions.item_lines, strict=True):
        m = c.mapping(raw, tline, "a transition", TRANSITION_KEYS, {"name", "from", "to", "roles", "label"})
        if m is None:
            continue
        # The graph checks use every route written down, even one whose transition has other
        # problems, so that one typo is reported once and not again as an unreachable state.
        raw_from = m.get("from")
        raw_sources = [raw_from] if isinstance(raw_from, str) else list(raw_from) if isinstance(raw_from, list) else []
        edges.append(([str(x) for x in raw_sources], str(m.get("to"))))
        tname = m.get("name")
        if "name" not in m or not c.name(tname, c.at(m, "name"), "transition name"):
            continue
        what = f"transition {tname!r}"
        if tname in transitions:
            c.add(c.at(m, "name"), "duplicate_name", f"{what} is declared twice")
            continue
        from_lines[tname] = c.at(m, "from")
        sources = [s for s, line in c.names_list(m.get("from"), c.at(m, "from"), f"{what} from")
                   if known_state(s, line, f"{what} from")]
        dest = m.get("to")
        if "to" in m and c.name(dest, c.at(m, "to"), f"{what} to"):
            known_state(dest, c.at(m, "to"), f"{what} to")
        t_roles = [r for r, line in c.names_list(m.get("roles"), c.at(m, "roles"), f"{what} roles")
                   if known_role(r, line, what, allow=(SYSTEM_ROLE,))]
        if SYSTEM_ROLE in t_roles and len(t_roles) > 1:
            c.add(c.at(m, "roles"), "bad_value", f"{what}: 'system' cannot share a transition with people's roles")
        inputs: list[InputSpec] = []
        raw_inputs = m.get("inputs", LList())
        if not isinstance(raw_inputs, LList):
            c.add(c.at(m, "inputs"), "bad_value", f"{what} inputs must be a list")
            raw_inputs = LList()
            raw_inputs.item_lines = []
        for raw_input, iline in zip(raw_inputs, getattr(raw_inputs, "item_lines", []), strict=True):
            im = c.mapping(raw_input, iline, f"an input of {what}", INPUT_KEYS)
            if im is None:
                continue
            if ("field" in im) == ("name" in im):
                c.add(im.line, "bad_value", f"an input of {what} needs exactly one of 'field' (a case field) or 'name'")
                continue
            required = c.boolean(im, "required", f"input of {what}", default=True)
            if "field" in im:
                fname = im["field"]
                unexpected = set(im) - {"field", "required", "label"}
                if unexpected:
                    c.add(c.at(im, sorted(unexpected)[0]), "bad_field",
                          f"input {fname!r} of {what} is a case field: its type and limits come from the field")
                if fname not in fields:
                    if fname not in (raw_fields or {}):
                        c.add(c.at(im, "field"), "unknown_field", f"{what} asks for unknown field {fname!r}")
                    continue
                if fields[fname].computed is not None:
                    c.add(c.at(im, "field"), "bad_field", f"{what}: {fname!r} is computed, so nobody enters it")
                    continue
                inputs.append(InputSpec(fname, fields[fname], required, to_case=True))
            else:
                iname = im["name"]
                if not c.name(iname, c.at(im, "name"), f"input of {what}"):
                    continue
                if iname in (raw_fields or {}):
                    c.add(c.at(im, "name"), "bad_field",
                          f"input {iname!r} of {what} shadows the case field of that name: write 'field: {iname}'")
                    continue
                body = LMap({k: v for k, v in im.items() if k not in ("name", "required")})
                body.line, body.key_lines = im.line, im.key_lines
                spec = _check_field(c, iname, body, c.at(im, "name"), f"input {iname!r} of {what}", INPUT_KEYS)
                if spec:
                    inputs.append(InputSpec(iname, spec, required, to_case=False))
        input_names = {i.name for i in inputs}
        guards = _guards(c, m.get("guards"), what, set(fields), input_names, context)
        proposals = _effects(c, m, what, fields, raw_fields, context)
        assignee = m.get("assignee_field")
        if assignee is not None and not _known_field(c, fields, raw_fields, assignee, c.at(m, "assignee_field"),
                                                     f"{what} assignee_field"):
            assignee = None
        transitions[tname] = TransitionSpec(
            name=tname, sources=tuple(sources), dest=dest if isinstance(dest, str) else "",
            roles=tuple(t_roles), four_eyes=c.boolean(m, "four_eyes", what), assignee_field=assignee,
            proposals=tuple(proposals),
            label=c.label(m.get("label"), c.at(m, "label"), f"{what} label"),
            inputs=tuple(inputs), guards=tuple(guards), line=tline,
        )

    # the graph
    if states:
        for t in transitions.values():
            for source in t.sources:
                if source in states and states[source].final:
                    c.add(from_lines[t.name], "exit_from_final",
                          f"transition {t.name!r} leaves final state {source!r}")
        initial = next((s.name for s in states.values() if s.initial), None)
        if initial:
            seen, todo = {initial}, deque([initial])
            while todo:
                here = todo.popleft()
                for sources, dest in edges:
                    if here in sources and dest in states and dest not in seen:
                        seen.add(dest)
                        todo.append(dest)
            for s in states.values():
                if s.name not in seen:
                    c.add(s.line, "unreachable_state", f"state {s.name!r} cannot be reached from {initial!r}")
        for s in states.values():
            if not s.final and not any(s.name in sources for sources, _ in edges):
                c.add(s.line, "dead_end", f"state {s.name!r} is not final and no transition leaves it")

    # timers
    timers: list[TimerSpec] = []
    raw_timers = top.get("timers", LList())
    if not isinstance(raw_timers, LList):
        c.add(c.at(top, "timers"), "bad_value", "timers must be a list")
        raw_timers = LList()
        raw_timers.item_lines = []
    timer_names: set[str] = set()
    for raw, tline in zip(raw_timers, raw_timers.item_lines, strict=True):
        m = c.mapping(raw, tline, "a timer", TIMER_KEYS, {"name", "label", "start", "stop"})
        if m is None or not c.name(m.get("name"), c.at(m, "name"), "timer name"):
            continue
        tname = m["name"]
        what = f"timer {tname!r}"
        if tname in timer_names:
            c.add(c.at(m, "name"), "duplicate_name", f"{what} is declared twice")
            continue
        timer_names.add(tname)
        events: dict[str, list[Event]] = {}
        for side in ("start", "stop"):
            events[side] = []
            if side not in m:
                continue
            for ev, line in _events(c, m.get(side), c.at(m, side), f"{what} {side}"):
                if ev.kind == "transition":
                    if ev.name not in transitions:
                        c.add(line, "unknown_transition", f"{what} {side} names unknown transition {ev.name!r}")
                        continue
                elif not known_state(ev.name, line, f"{what} {side}"):
                    continue
                events[side].append(ev)
        duration = deadline = None
        if ("duration" in m) == ("deadline" in m):
            c.add(m.line, "missing_key", f"{what} needs exactly one of 'duration' or 'deadline'")
        elif "duration" in m:
            duration = c.duration(m["duration"], c.at(m, "duration"), f"{what} duration")
        else:
            dm = c.mapping(m["deadline"], c.at(m, "deadline"), f"{what} deadline", DEADLINE_KEYS, DEADLINE_KEYS)
            if dm is not None:
                dfield = dm.get("field")
                if dfield not in fields:
                    c.add(c.at(dm, "field"), "unknown_field", f"{what} deadline names unknown field {dfield!r}")
                ok = True
                for k, lo, hi in (("months_after", 0, 12), ("day", 1, 28)):
                    v = dm.get(k)
                    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                        c.add(c.at(dm, k), "bad_value", f"{what} deadline {k} must be a whole number {lo}–{hi}")
                        ok = False
                if ok and dfield in fields:
                    deadline = Deadline(dfield, dm["months_after"], dm["day"])
        when = m.get("when")
        if when is not None:
            try:
                if not isinstance(when, str):
                    raise expressions.ExpressionError("guard_syntax", "must be an expression in text")
                expressions.check(when, set(fields))
            except expressions.ExpressionError as exc:
                c.add(c.at(m, "when"), exc.code, f"{what} when: {exc}")
        warn = None
        if "warn_before" in m:
            warn = c.duration(m["warn_before"], c.at(m, "warn_before"), f"{what} warn_before")
        expiry = c.mapping(m.get("on_expiry", LMap()), c.at(m, "on_expiry"), f"{what} on_expiry", EXPIRY_KEYS) or LMap()
        if not hasattr(expiry, "key_lines"):
            expiry.key_lines, expiry.line = {}, m.line
        notify = []
        if "notify" in expiry:
            for role, line in c.names_list(expiry["notify"], c.at(expiry, "notify"), f"{what} notify"):
                if known_role(role, line, f"{what} notify", allow=(HOLDERS,)):
                    notify.append(role)
        fire = expiry.get("fire")
        if fire is not None and fire not in transitions:
            c.add(c.at(expiry, "fire"), "unknown_transition", f"{what} fires unknown transition {fire!r}")
            fire = None
        repeat = c.duration(expiry["repeat"], c.at(expiry, "repeat"), f"{what} repeat") if "repeat" in expiry else None
        notice = _notice(c, expiry, what)
        late = c.mapping(m.get("on_late_stop", LMap()), c.at(m, "on_late_stop"), f"{what} on_late_stop", LATE_STOP_KEYS)
        late = late if late is not None else LMap()
        late_notify = []
        if "notify" in late:
            for role, line in c.names_list(late["notify"], c.at(late, "notify"), f"{what} on_late_stop notify"):
                if known_role(role, line, f"{what} on_late_stop notify", allow=(HOLDERS, LATE_HOLDERS)):
                    late_notify.append(role)
        timers.append(TimerSpec(
            name=tname, label=c.label(m.get("label"), c.at(m, "label"), f"{what} label"),
            start=tuple(events["start"]), stop=tuple(events["stop"]), duration=duration, deadline=deadline,
            when=when, warn_before=warn, mark_overdue=c.boolean(expiry, "mark_overdue", what, default=True),
            notify=tuple(notify), fire=fire, repeat=repeat, notice=notice,
            late_notice=_notice(c, late, f"{what} on_late_stop"), late_notify=tuple(late_notify), line=tline,
        ))

    open_roles = []
    if "open_roles" in top:
        for role, line in c.names_list(top["open_roles"], c.at(top, "open_roles"), "open_roles"):
            if known_role(role, line, "open_roles"):
                open_roles.append(role)

    # number
    number = None
    if "number" in top:
        nm = c.mapping(top["number"], c.at(top, "number"), "number", NUMBER_KEYS, {"pattern"})
        if nm is not None:
            pattern = nm.get("pattern")
            tokens = _NUMBER_TOKEN.findall(pattern) if isinstance(pattern, str) else []
            bad = [t for t in tokens if not _NUMBER_TOKENS.match(t)]
            if not isinstance(pattern, str) or bad or not any(t.startswith("seq") for t in tokens):
                c.add(c.at(nm, "pattern"), "bad_number_pattern",
                      f"number pattern {pattern!r} needs {{seq}} (or {{seq:N}}) and may use only "
                      "{YYYY} {YY} {MM} {DD}" + (f"; unknown: {', '.join(bad)}" if bad else ""))
            reset = nm.get("reset", "never")
            if reset not in ("monthly", "yearly", "never"):
                c.add(c.at(nm, "reset"), "bad_value", f"number reset {reset!r} must be monthly, yearly or never")
            assign_on = nm.get("assign_on", "create")
            if assign_on != "create" and assign_on not in transitions:
                c.add(c.at(nm, "assign_on"), "unknown_transition",
                      f"number assign_on names unknown transition {assign_on!r}")
            number = NumberSpec(str(pattern), reset, assign_on)

    access = _access(c, top, fields, raw_fields, known_role)
    for spec in fields.values():
        if spec.user_role is not None:
            known_role(spec.user_role, spec.line, f"field {spec.name!r} user_role")

    if c.problems or not isinstance(key, str):
        return None
    return Definition(
        key=key, title=title, roles=roles, fields=fields, states=states, transitions=transitions,
        timers=tuple(timers), number=number, source=top.get("source"), open_roles=tuple(open_roles),
        unique=tuple(unique), series=series, open_guards=tuple(open_guards), access=access,
        summary=tuple(summary),
    )


def _access(
    c: Checker, top: LMap, fields: dict[str, FieldSpec], raw_fields: Any, known_role: Callable[..., bool]
) -> AccessSpec:
    """The `access:` section: who reads the cases, beyond the auditors who read everything."""
    if "access" not in top:
        return AccessSpec()
    m = c.mapping(top["access"], c.at(top, "access"), "access", ACCESS_KEYS)
    if m is None:
        return AccessSpec()

    def roles(key: str) -> tuple[str, ...]:
        listed = c.names_list(m.get(key), c.at(m, key), f"access {key}")
        return tuple(role for role, line in listed if known_role(role, line, f"access {key}"))

    def people_fields() -> tuple[str, ...]:
        listed = c.names_list(m.get("people"), c.at(m, "people"), "access people")
        return tuple(f for f, line in listed if _known_field(c, fields, raw_fields, f, line, "access people"))

    department_field = m.get("department_field")
    if department_field is not None and not _known_field(
            c, fields, raw_fields, department_field, c.at(m, "department_field"), "access department_field"):
        department_field = None
    department_roles = roles("department_roles")
    if department_roles and department_field is None:
        c.add(c.at(m, "department_roles"), "bad_value",
              "access department_roles need a department_field naming the case's department")
    return AccessSpec(
        readers=roles("readers") if "readers" in m else None, people=people_fields(),
        department_field=department_field, department_roles=department_roles, managers=roles("managers"),
    )


def parse(
    text: str, filename: str = "<text>", expected_key: str | None = None
) -> tuple[Definition | None, list[Problem]]:
    """Parse and validate one definition. Returns (definition, []) or (None, problems)."""
    return read_checked(text, filename, lambda c, doc: _parse(c, doc, expected_key))


def load_text(text: str, filename: str = "<text>", expected_key: str | None = None) -> Definition:
    definition, problems = parse(text, filename, expected_key)
    if problems:
        raise DefinitionInvalid(problems)
    assert definition is not None
    return definition


def validate_path(path: Path) -> list[Problem]:
    """Validate a file, or every *.yaml file in a folder."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    problems: list[Problem] = []
    for f in files:
        problems += parse(f.read_text(encoding="utf-8"), str(f), expected_key=f.stem)[1]
    return problems


def shipped_files() -> list[Path]:
    return sorted(SHIPPED_DIR.glob("*.yaml"))
