"""`transitions:`: the moves between states, each with its roles, inputs, guards and effects."""

from __future__ import annotations

from typing import Any

from ..formats.definition import TRANSITION
from ..reader import LList, LMap
from ..schema import SYSTEM_ROLE, TransitionSpec
from .context import Known, items_of
from .guards import check_effects, check_guards
from .inputs import check_inputs
from .states import Edges, check_graph


def check_transitions(k: Known) -> None:
    c, top = k.c, k.top
    raw_transitions = top.get("transitions")
    if not isinstance(raw_transitions, LList) and "transitions" in top:
        c.add(c.at(top, "transitions"), "bad_value", "transitions must be a list")
    from_lines: dict[str, int] = {}
    edges: Edges = []
    for raw, tline in items_of(raw_transitions):
        m = c.mapping(raw, tline, "a transition", TRANSITION.allowed, TRANSITION.required)
        if m is None:
            continue
        edges.append(_route(m))
        tname = m.get("name")
        if "name" not in m or not c.name(tname, c.at(m, "name"), "transition name"):
            continue
        if tname in k.transitions:
            c.add(c.at(m, "name"), "duplicate_name", f"transition {tname!r} is declared twice")
            continue
        from_lines[tname] = c.at(m, "from")
        k.transitions[tname] = _transition(k, m, tname, tline)
    check_graph(k, edges, from_lines)


def _route(m: LMap) -> tuple[list[str], str]:
    raw_from: Any = m.get("from")
    sources = [raw_from] if isinstance(raw_from, str) else list(raw_from) if isinstance(raw_from, list) else []
    return [str(x) for x in sources], str(m.get("to"))


def _transition(k: Known, m: LMap, tname: str, tline: int) -> TransitionSpec:
    c, what = k.c, f"transition {tname!r}"
    listed = c.names_list(m.get("from"), c.at(m, "from"), f"{what} from")
    sources = [s for s, line in listed if k.state(s, line, f"{what} from")]
    dest = m.get("to")
    if "to" in m and c.name(dest, c.at(m, "to"), f"{what} to"):
        k.state(dest, c.at(m, "to"), f"{what} to")
    listed = c.names_list(m.get("roles"), c.at(m, "roles"), f"{what} roles")
    roles = [r for r, line in listed if k.role(r, line, what, allow=(SYSTEM_ROLE,))]
    if SYSTEM_ROLE in roles and len(roles) > 1:
        c.add(c.at(m, "roles"), "bad_value", f"{what}: 'system' cannot share a transition with people's roles")
    inputs = check_inputs(k, m, what)
    guards = check_guards(k, m.get("guards"), what, {i.name for i in inputs})
    proposals = check_effects(k, m, what)
    assignee = m.get("assignee_field")
    if assignee is not None and not k.field(assignee, c.at(m, "assignee_field"), f"{what} assignee_field"):
        assignee = None
    return TransitionSpec(
        name=tname, sources=tuple(sources), dest=dest if isinstance(dest, str) else "",
        roles=tuple(roles), four_eyes=c.boolean(m, "four_eyes", what), assignee_field=assignee,
        proposals=tuple(proposals), label=c.label(m.get("label"), c.at(m, "label"), f"{what} label"),
        inputs=tuple(inputs), guards=tuple(guards), line=tline,
    )
