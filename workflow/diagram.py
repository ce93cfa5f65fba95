"""State diagrams built with pydot straight from a definition, rendered to SVG by Graphviz.

Every text in the graph is quoted for DOT here; Graphviz escapes it again for SVG, so a label
containing `<script>` is drawn as text, never run.
"""

from __future__ import annotations

from collections.abc import Iterable

import pydot

from .definitions import Definition
from .definitions.schema import Label

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
        text = f"⏱ {timer.length} {_text(timer.label, lang).splitlines()[0]}"
        if timer.fire:
            text += f" → {timer.fire}"
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
        graph.add_node(pydot.Node(
            _q(state.name), label=_q(label), fillcolor=_q(fill),
            peripheries="2" if state.final else "1", penwidth="2" if state.name == current else "1",
        ))
    graph.add_edge(pydot.Edge("__start__", _q(definition.initial_state)))
    for t in definition.transitions.values():
        roles = ", ".join(t.roles) + (" · 4-eyes" if t.four_eyes else "")
        for source in t.sources:
            hot = (source, t.name) in taken
            graph.add_edge(pydot.Edge(
                _q(source), _q(t.dest), label=_q(f"{_text(t.label, lang).splitlines()[0]}\n{t.name} [{roles}]"),
                color=_q(TAKEN if hot else "#555555"), penwidth="2.5" if hot else "1",
                style="dashed" if t.system_only else "solid",
            ))
    return graph


def to_svg(graph: pydot.Dot) -> bytes:
    svg = graph.create(prog="dot", format="svg")
    return svg if isinstance(svg, bytes) else svg.encode()
