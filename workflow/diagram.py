"""State diagrams built with pydot straight from a definition, rendered to SVG by Graphviz.

In one language (what people see in the UI) every text is the definition's own words: step labels, the
roles as people call them, durations in words; the keys appear only in the two-language diagrams of
diagrams/, which process owners read beside the YAML. Every text in the graph is quoted for DOT here;
Graphviz escapes it again for SVG, so a label containing `<script>` is drawn as text, never run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pydot

from .definitions import Definition
from .definitions.schema import SYSTEM_ROLE, DateDeadline, Deadline, Duration, Label

CURRENT = "#f59e0b"
VISITED = "#fde68a"
TAKEN = "#b45309"


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _text(label: Label, lang: str | None) -> str:
    if lang in ("en", "zh"):
        return label[lang]
    return f"{label['zh']}\n{label['en']}"


UNITS = {"h": ("{n} hours", "{n} 小时"), "d": ("{n} calendar days", "{n} 个自然日"),
         "wd": ("{n} working days", "{n} 个工作日"), "wh": ("{n} working hours", "{n} 个工作小时")}
FOUR_EYES = {"en": "a second person confirms", "zh": "须另一人复核"}
SYSTEM = {"en": "by the service itself", "zh": "系统自动"}


def _words(lang: str, en: str, zh: str, **values: object) -> str:
    return (en if lang == "en" else zh).format(**values)


def _length(definition: Definition, length: Duration | Deadline | None, lang: str | None) -> str:
    """How long a timer runs: `48h` in the two-language diagrams, "48 hours" / "48 小时" in one language."""
    if lang not in ("en", "zh") or length is None:
        return str(length)
    if isinstance(length, Duration):
        return _words(lang, *UNITS[length.unit], n=length.amount)
    spec = definition.fields.get(length.field)
    field = spec.label[lang] if spec else length.field
    if isinstance(length, DateDeadline):
        return _words(lang, "{d} day(s) after {field}", "{field}后 {d} 天内", d=length.days_after, field=field)
    return _words(lang, "by day {day}, {m} month(s) after {field}", "{field}后第 {m} 个月的 {day} 日前",
                  day=length.day, m=length.months_after, field=field)


def _who(definition: Definition, roles: tuple[str, ...], four_eyes: bool, lang: str | None) -> str:
    """Who takes a step: the role keys in the two-language diagrams, the roles' names in one language."""
    if lang not in ("en", "zh"):
        return ", ".join(roles) + (" · 4-eyes" if four_eyes else "")
    names = [SYSTEM[lang] if r == SYSTEM_ROLE else definition.roles[r][lang] if r in definition.roles else r
             for r in roles]
    return ("、" if lang == "zh" else ", ").join(names) + (f" · {FOUR_EYES[lang]}" if four_eyes else "")


def _timer_lines(definition: Definition, lang: str | None) -> dict[str, list[str]]:
    """The timers each state runs, as '⏱ 48h label' lines for that state's box."""
    lines: dict[str, list[str]] = {}
    for timer in definition.timers:
        where = set()
        for ev in timer.start:
            if ev.kind == "enter":
                where.add(ev.name)
            elif ev.kind == "transition":
                where.add(definition.transitions[ev.name].dest)
        length = _length(definition, timer.duration or timer.deadline, lang)
        text = f"⏱ {length} {_text(timer.label, lang).splitlines()[0]}"
        if timer.fire:
            fires = definition.transitions.get(timer.fire)
            text += f" → {timer.fire if lang not in ('en', 'zh') or fires is None else fires.label[lang]}"
        for state in sorted(where):
            lines.setdefault(state, []).append(text)
    return lines


def build(
    definition: Definition, lang: str | None = None, current: str | None = None,
    path: Iterable[tuple[str | None, str, str]] = (),
) -> pydot.Dot:
    """The diagram of `definition`; `current` and the `path` of (from, action, to) moves are highlighted."""
    taken = {(f, a) for f, a, _ in path if f is not None}
    visited = {t for _, _, t in path}
    graph = pydot.Dot(graph_type="digraph", rankdir="TB", fontname="sans-serif", nodesep="0.4", ranksep="0.45")
    one_language = lang in ("en", "zh")
    if one_language:
        graph.set("language", _q(str(lang)))  # undrawn; to_svg then leaves out the keys Graphviz puts in <title>
    graph.set_node_defaults(
        shape="box", style="rounded,filled", fillcolor="white", fontname="sans-serif", fontsize="11"
    )
    graph.set_edge_defaults(fontname="sans-serif", fontsize="9", color="#555555")
    graph.add_node(
        pydot.Node("__start__", shape="circle", label=_q(""), width="0.2", style="filled", fillcolor="black")
    )
    timers = _timer_lines(definition, lang)
    for state in definition.states.values():
        label = "\n".join([_text(state.label, lang), *timers.get(state.name, [])])
        fill = CURRENT if state.name == current else VISITED if state.name in visited else "white"
        node = pydot.Node(
            _q(state.name), label=_q(label), fillcolor=_q(fill),
            peripheries="2" if state.final else "1", penwidth="2" if state.name == current else "1",
        )
        if one_language:
            node.set("tooltip", _q(label))
        graph.add_node(node)
    graph.add_edge(pydot.Edge("__start__", _q(definition.initial_state)))
    for t in definition.transitions.values():
        who = _who(definition, t.roles, t.four_eyes, lang)
        second = who if one_language else f"{t.name} [{who}]"
        for source in t.sources:
            hot = (source, t.name) in taken
            words = f"{_text(t.label, lang).splitlines()[0]}\n{second}"
            edge = pydot.Edge(
                _q(source), _q(t.dest), label=_q(words),
                color=_q(TAKEN if hot else "#555555"), penwidth="2.5" if hot else "1",
                style="dashed" if t.system_only else "solid",
                step=_q(t.name),  # Graphviz keeps but never draws it: the workbench finds a step's edges by it
            )
            if one_language:
                edge.set("tooltip", _q(words))
            graph.add_edge(edge)
    return graph


_TITLE = re.compile(rb"<title>[^<]*</title>\n?")


def to_svg(graph: pydot.Dot) -> bytes:
    made = graph.create(prog="dot", format="svg")
    svg = made if isinstance(made, bytes) else made.encode()
    if graph.get("language"):
        # Graphviz titles each node and edge with its DOT name (a state key, `a->b`), which a browser shows on
        # hover and a screen reader reads out: in one language the tooltips carry the words instead.
        svg = _TITLE.sub(b"", svg)
    return svg
