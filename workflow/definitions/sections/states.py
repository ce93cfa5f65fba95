"""`states:`, and the checks of the graph the transitions draw between them."""

from __future__ import annotations

from collections import deque

from ..formats.definition import STATE
from ..schema import StateSpec
from .context import Known

Edges = list[tuple[list[str], str]]


def check_states(k: Known) -> None:
    c, top = k.c, k.top
    raw_states = top.get("states")
    states_map = c.named(raw_states, c.at(top, "states"), "states")
    if states_map is None:
        return
    for sname, raw in states_map.items():
        sline = states_map.key_lines[sname]
        if not c.name(sname, sline, "state"):
            continue
        m = c.mapping(raw, sline, f"state {sname!r}", STATE.allowed, STATE.required)
        if m is None:
            continue
        k.states[sname] = StateSpec(
            name=sname, label=c.label(m.get("label"), c.at(m, "label"), f"state {sname!r} label"),
            initial=c.boolean(m, "initial", f"state {sname!r}"), final=c.boolean(m, "final", f"state {sname!r}"),
            line=sline,
        )
    initials = [s for s in k.states.values() if s.initial]
    if not initials and k.states:
        c.add(c.at(top, "states"), "no_initial_state", "no state is marked 'initial: true'")
    for extra in initials[1:]:
        c.add(extra.line, "multiple_initial_states",
              f"state {extra.name!r} is initial too; {initials[0].name!r} already is")
    for s in k.states.values():
        if s.initial and s.final:
            c.add(s.line, "bad_value", f"state {s.name!r} cannot be both initial and final")


def check_graph(k: Known, edges: Edges, from_lines: dict[str, int]) -> None:
    """No way out of a final state, every state reachable, and a way out of every other state.

    `edges` are every route written down, even one whose transition has other problems, so that one typo
    is reported once and not again as an unreachable state.
    """
    c, states = k.c, k.states
    if not states:
        return
    for t in k.transitions.values():
        for source in t.sources:
            if source in states and states[source].final:
                c.add(from_lines[t.name], "exit_from_final", f"transition {t.name!r} leaves final state {source!r}")
    initial = next((s.name for s in states.values() if s.initial), None)
    if initial:
        seen = _reachable(initial, edges, set(states))
        for s in states.values():
            if s.name not in seen:
                c.add(s.line, "unreachable_state", f"state {s.name!r} cannot be reached from {initial!r}")
    for s in states.values():
        if not s.final and not any(s.name in sources for sources, _ in edges):
            c.add(s.line, "dead_end", f"state {s.name!r} is not final and no transition leaves it")


def _reachable(initial: str, edges: Edges, states: set[str]) -> set[str]:
    seen, todo = {initial}, deque([initial])
    while todo:
        here = todo.popleft()
        for sources, dest in edges:
            if here in sources and dest in states and dest not in seen:
                seen.add(dest)
                todo.append(dest)
    return seen
