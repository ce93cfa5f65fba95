"""The workbench's pages shown to a person: a definition's rules in words, and its diagram with a change marked.

Everything here reads a parsed `Definition` (or the engine's structured diff of two) and turns it into text
and pictures; nothing decides. Labels come from the definition, in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pydot
from flask_babel import gettext
from markupsafe import Markup

from workflow import diagram
from workflow.definitions import Definition, TimerSpec
from workflow.definitions.schema import HOLDERS, LATE_HOLDERS, NOTICES, Deadline, Duration, Event

from ..ui.present import N_, label


def _(message: str, **values: Any) -> str:
    return str(gettext(message, **values))


ADDED, REMOVED, CHANGED = "#16a34a", "#dc2626", "#d97706"
ADDED_FILL, REMOVED_FILL, CHANGED_FILL = "#dcfce7", "#fee2e2", "#fef3c7"

UNITS = {
    "h": N_("%(n)d hours"), "d": N_("%(n)d calendar days"), "wd": N_("%(n)d working days"),
    "wh": N_("%(n)d working hours"),
}
FIELD_TYPES = {
    "string": N_("text"), "text": N_("long text"), "integer": N_("whole number"), "decimal": N_("number"),
    "date": N_("date"), "datetime": N_("date and time"), "enum": N_("choice"), "boolean": N_("yes/no"),
    "scoresheet": N_("score sheet"),
}


def duration_words(duration: Duration | None) -> str:
    """`48h` as "48 hours", `3wd` as "3 working days": the unit says which calendar counts."""
    if duration is None:
        return ""
    return _(UNITS[duration.unit], n=duration.amount)


def deadline_words(definition: Definition, deadline: Deadline) -> str:
    field_spec = definition.fields.get(deadline.field)
    return _("by day %(day)d of the month %(months)d month(s) after “%(field)s”", day=deadline.day,
             months=deadline.months_after, field=label(field_spec.label if field_spec else None, deadline.field))


def _state(definition: Definition, name: str) -> str:
    spec = definition.states.get(name)
    return label(spec.label if spec else None, name)


def _step(definition: Definition, name: str) -> str:
    spec = definition.transitions.get(name)
    return label(spec.label if spec else None, name)


def event_words(definition: Definition, event: Event) -> str:
    if event.kind == "enter":
        return _("the case enters “%(state)s”", state=_state(definition, event.name))
    if event.kind == "leave":
        return _("the case leaves “%(state)s”", state=_state(definition, event.name))
    return _("someone takes the step “%(step)s”", step=_step(definition, event.name))


def role_words(definition: Definition, roles: tuple[str, ...] | list[str]) -> str:
    named = {HOLDERS: _("whoever holds the case"), LATE_HOLDERS: _("whoever held the case while it was late")}
    return ", ".join(named.get(r) or label(definition.roles.get(r), r) for r in roles)


# -- the rules in words ---------------------------------------------------------------------------


@dataclass
class InputView:
    label: str
    kind: str
    required: bool
    to_case: bool


@dataclass
class StepView:
    name: str
    label: str
    sources: list[str]
    dest: str
    roles: str
    system_only: bool
    four_eyes: bool
    assignee: str | None
    inputs: list[InputView]
    guards: list[tuple[str, str]]  # (the rule in words, the expression)


@dataclass
class TimerView:
    name: str
    label: str
    length: str
    starts: list[str]
    stops: list[str]
    when: str | None
    warn_before: str
    on_expiry: list[str] = field(default_factory=list)


@dataclass
class Rules:
    states: list[tuple[str, str, str]]  # (name, label, initial|final|"")
    steps: list[StepView]
    timers: list[TimerView]
    roles: list[tuple[str, str]]
    constants: list[tuple[str, Any]]


def _step_view(definition: Definition, name: str) -> StepView:
    t = definition.transitions[name]
    assignee = definition.fields.get(t.assignee_field) if t.assignee_field else None
    return StepView(
        name=t.name, label=label(t.label, t.name), sources=[_state(definition, s) for s in t.sources],
        dest=_state(definition, t.dest), roles=role_words(definition, t.roles), system_only=t.system_only,
        four_eyes=t.four_eyes,
        assignee=label(assignee.label, t.assignee_field or "") if assignee else t.assignee_field,
        inputs=[InputView(label(i.spec.label, i.name), _(FIELD_TYPES.get(i.spec.type, i.spec.type)), i.required,
                          i.to_case) for i in t.inputs],
        guards=[(label(g.message, g.when), g.when) for g in t.guards],
    )


def _expiry(definition: Definition, timer: TimerSpec) -> list[str]:
    out = []
    if timer.mark_overdue:
        out.append(_("the case is marked overdue"))
    if timer.notify:
        out.append(_("notify %(roles)s", roles=role_words(definition, timer.notify)))
    if timer.fire:
        out.append(_("the timer takes the step “%(step)s” itself", step=_step(definition, timer.fire)))
    if timer.notice:
        notice = label(NOTICES.get(timer.notice), timer.notice)
        if timer.repeat:
            out.append(_("a %(notice)s, repeated every %(every)s", notice=notice, every=duration_words(timer.repeat)))
        else:
            out.append(_("a %(notice)s", notice=notice))
    return out


def _timer_view(definition: Definition, timer: TimerSpec) -> TimerView:
    length = duration_words(timer.duration) if timer.duration else (
        deadline_words(definition, timer.deadline) if timer.deadline else "")
    return TimerView(
        name=timer.name, label=label(timer.label, timer.name), length=length,
        starts=[event_words(definition, e) for e in timer.start],
        stops=[event_words(definition, e) for e in timer.stop], when=timer.when,
        warn_before=duration_words(timer.warn_before), on_expiry=_expiry(definition, timer),
    )


def rules(definition: Definition) -> Rules:
    """The definition as a process owner reads it: states, steps with roles, inputs and guards, timers."""
    states = [(s.name, label(s.label, s.name), "initial" if s.initial else "final" if s.final else "")
              for s in definition.states.values()]
    return Rules(
        states=states,
        steps=[_step_view(definition, name) for name in definition.transitions],
        timers=[_timer_view(definition, t) for t in definition.timers],
        roles=[(name, label(text, name)) for name, text in definition.roles.items()],
        constants=sorted(definition.constants.items()),
    )


# -- diagrams -------------------------------------------------------------------------------------


def _q(text: str) -> str:
    """A DOT double-quoted string (as workflow/diagram.py writes them)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def svg_of(graph: pydot.Dot) -> Markup:
    """Graphviz's SVG, inline: Graphviz escapes every label, so the markup is safe to embed."""
    svg = diagram.to_svg(graph).decode("utf-8")
    return Markup(svg[svg.index("<svg"):])  # noqa: S704 - Graphviz output, every label escaped by Graphviz


def plain_svg(definition: Definition, lang: str) -> Markup:
    return svg_of(diagram.build(definition, lang=lang))


def _names(part: dict[str, Any], key: str) -> set[str]:
    return {item if isinstance(item, str) else str(item.get("name")) for item in part.get(key, [])}


def _timer_states(definition: Definition, timer_names: set[str]) -> dict[str, list[str]]:
    """The states whose box shows each of these timers (the states they start in), by state."""
    where: dict[str, list[str]] = {}
    for timer in definition.timers:
        if timer.name not in timer_names:
            continue
        for ev in timer.start:
            state = ev.name if ev.kind == "enter" else (
                definition.transitions[ev.name].dest if ev.kind == "transition" else None)
            if state is not None:
                where.setdefault(state, []).append(timer.name)
    return where


def _mark_node(graph: pydot.Dot, name: str, colour: str, fill: str, note: str | None = None) -> None:
    for node in graph.get_node(_q(name)):
        node.set("color", _q(colour))
        node.set("fillcolor", _q(fill))
        node.set("penwidth", "2.5")
        if note:
            text = str(node.get("label") or _q(name))
            node.set("label", text[:-1] + "\\n" + _q(note)[1:])


def _timer_notes(structure: dict[str, Any]) -> dict[str, str]:
    notes = {}
    for change in structure.get("timers", {}).get("changed", []):
        old, new = change.get("old", {}), change.get("new", {})
        before = old.get("duration") or old.get("deadline") or "—"
        after = new.get("duration") or new.get("deadline") or "—"
        notes[str(change.get("name"))] = f"⏱ {before} → {after}"
    return notes


def _mark_states(graph: pydot.Dot, old: Definition | None, new: Definition, structure: dict[str, Any],
                 lang: str) -> None:
    states = structure.get("states", {})
    for name in _names(states, "added"):
        _mark_node(graph, name, ADDED, ADDED_FILL)
    for name in _names(states, "changed"):
        _mark_node(graph, name, CHANGED, CHANGED_FILL)
    notes = _timer_notes(structure)
    for state, timers in _timer_states(new, set(notes)).items():
        _mark_node(graph, state, CHANGED, CHANGED_FILL, "\n".join(notes[t] for t in timers))
    for name in _names(states, "removed"):
        spec = old.states.get(name) if old else None
        text = (spec.label[lang] if spec and lang in ("en", "zh") else name)
        graph.add_node(pydot.Node(_q(name), label=_q(text), color=_q(REMOVED), fillcolor=_q(REMOVED_FILL),
                                  style='"rounded,filled,dashed"', penwidth="2.5", fontcolor=_q(REMOVED)))


def _mark_steps(graph: pydot.Dot, old: Definition | None, structure: dict[str, Any], lang: str) -> None:
    steps = structure.get("transitions", {})
    added, changed = _names(steps, "added"), _names(steps, "changed")
    for edge in graph.get_edges():
        name = str(edge.get("step") or "").strip('"') or None
        colour = ADDED if name in added else CHANGED if name in changed else None
        if colour:
            edge.set("color", _q(colour))
            edge.set("fontcolor", _q(colour))
            edge.set("penwidth", "2.5")
    for name in sorted(_names(steps, "removed")):
        spec = old.transitions.get(name) if old else None
        if spec is None:
            continue
        text = spec.label[lang] if lang in ("en", "zh") else spec.label["en"]
        for source in spec.sources:
            graph.add_edge(pydot.Edge(_q(source), _q(spec.dest), label=_q(text), color=_q(REMOVED),
                                      fontcolor=_q(REMOVED), style="dashed", penwidth="2.5"))


def diff_svg(old: Definition | None, new: Definition, structure: dict[str, Any], lang: str) -> Markup:
    """The new definition's diagram with the change marked: added states and steps green, removed ones
    red and dashed (drawn where they were), changed ones amber, a changed timer with its old and new length."""
    graph = diagram.build(new, lang=lang)
    _mark_states(graph, old, new, structure, lang)
    _mark_steps(graph, old, structure, lang)
    return svg_of(graph)


# -- the YAML diff --------------------------------------------------------------------------------


def diff_lines(text: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) for colouring: add, del, hunk, file or same."""
    out = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        out.append((kind, line))
    return out


# -- the impact in words ----------------------------------------------------------------------------


def _hours(value: float) -> str:
    hours = abs(value)
    return _("%(n)s h", n=f"{hours:g}") if hours < 48 or hours % 24 else _("%(n)d d", n=int(hours // 24))


def shift_words(timer: dict[str, Any]) -> str:
    """ "3 running timers move 12 h earlier, 1 becomes overdue at once": one timer's line of the impact."""
    moved, overdue = int(timer.get("moved", 0)), int(timer.get("overdue_now", 0))
    shift = timer.get("shift_hours")
    if not moved or not shift:
        text = _("%(running)d running timer(s), none moves", running=int(timer.get("running", 0)))
    else:
        earliest, latest = float(shift["earliest"]), float(shift["latest"])
        direction = _("earlier") if float(shift["median"]) < 0 else _("later")
        if earliest == latest:
            amount = _hours(earliest)
        else:
            amount = _("%(low)s to %(high)s (median %(median)s)", low=_hours(min(earliest, latest, key=abs)),
                       high=_hours(max(earliest, latest, key=abs)), median=_hours(float(shift["median"])))
        if moved == 1:
            text = _("1 running timer moves %(amount)s %(direction)s", amount=amount, direction=direction)
        else:
            text = _("%(moved)d running timers move %(amount)s %(direction)s", moved=moved, amount=amount,
                     direction=direction)
    if overdue == 1:
        text += _(", 1 becomes overdue at once")
    elif overdue:
        text += _(", %(n)d become overdue at once", n=overdue)
    return text
