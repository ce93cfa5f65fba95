"""BPMN 2.0 export of a workflow definition, with diagram interchange (DI) so that it opens laid out.

The mapping: one pool, one lane per role; each state a user task in the lane of the role that acts in it
(a final state: an end event); the initial state follows a start event; a state with more than one step out
of it ends in an exclusive gateway whose outgoing flows are the steps; each timer a boundary timer event on
the task of the state it starts in, interrupting (with a flow along its step) when it fires a step.

Positions come from Graphviz (`dot -Tplain`, left to right) for the order along the flow; each node is then
put in its lane's band, stacked where two nodes of one lane share a column. Durations are ISO 8601; working
time has no ISO form, so `3wd` is written P3D with the exact rule in the event's documentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

import pydot

from .definitions import Definition, TimerSpec
from .definitions.schema import SYSTEM_ROLE, Duration

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

TASK_W, TASK_H = 120, 70
EVENT = 36
LABEL_H = 28  # an event's name: two short lines
GATEWAY = 50
LANE_LABEL = 30  # the strip at a lane's left where its name is written
ROW_H = 110  # one row of a lane's band
COLUMN = 170  # Graphviz inches are scaled to this many pixels per rank, roughly
POOL_X, POOL_Y = 40, 40


def _b(tag: str) -> str:
    prefix, name = tag.split(":")
    return f"{{{NS[prefix]}}}{name}"


def iso_duration(duration: Duration) -> str:
    """ISO 8601 for BPMN: hours as PTnH, days (calendar or working) as PnD."""
    return f"PT{duration.amount}H" if duration.unit in ("h", "wh") else f"P{duration.amount}D"


@dataclass
class Node:
    id: str
    kind: str  # startEvent | userTask | exclusiveGateway | endEvent | boundaryEvent
    name: str
    lane: str
    width: int
    height: int
    x: float = 0
    y: float = 0
    attached_to: str | None = None
    timer: TimerSpec | None = None
    interrupting: bool = False


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str | None = None  # out of a gateway: which step was taken


@dataclass
class Model:
    definition: Definition
    lanes: list[str] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    flows: list[Flow] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        self.nodes[node.id] = node
        return node

    def flow(self, source: str, target: str, name: str = "", condition: str | None = None) -> None:
        self.flows.append(Flow(f"flow_{len(self.flows) + 1}", source, target, name, condition))


def state_id(state: str) -> str:
    return f"state_{state}"


def _label(label: dict[str, str]) -> str:
    return f"{label['zh']} {label['en']}"


def _lane_of_state(definition: Definition, state: str) -> str:
    """The role that acts in `state`: the first role of its first step (system if only timers act)."""
    for t in definition.transitions_from(state):
        for role in t.roles:
            if role != SYSTEM_ROLE:
                return role
    return SYSTEM_ROLE if definition.transitions_from(state) else ""


def _incoming_lane(definition: Definition, state: str) -> str:
    """Where an end event sits: with the role of a step that reaches it."""
    for t in definition.transitions.values():
        if t.dest == state and t.roles:
            return t.roles[0]
    return next(iter(definition.roles), SYSTEM_ROLE)


def _timer_home(definition: Definition, timer: TimerSpec) -> str | None:
    """The state whose task carries the timer: the state the step it fires leaves, else where it starts."""
    if timer.fire and timer.fire in definition.transitions:
        return definition.transitions[timer.fire].sources[0]
    for ev in timer.start:
        if ev.kind == "enter":
            return ev.name
        if ev.kind == "transition" and ev.name in definition.transitions:
            return definition.transitions[ev.name].dest
        if ev.kind == "leave":
            dests = [t.dest for t in definition.transitions_from(ev.name)]
            if dests:
                return dests[0]
    return None


def _states(model: Model) -> None:
    d = model.definition
    for state in d.states.values():
        if state.final:
            model.add(Node(state_id(state.name), "endEvent", _label(state.label), _incoming_lane(d, state.name),
                           EVENT, EVENT))
        else:
            model.add(Node(state_id(state.name), "userTask", _label(state.label), _lane_of_state(d, state.name),
                           TASK_W, TASK_H))
    start = model.add(Node("start", "startEvent", "", model.nodes[state_id(d.initial_state)].lane, EVENT, EVENT))
    model.flow(start.id, state_id(d.initial_state))


def _steps(model: Model) -> None:
    d = model.definition
    for state in d.states.values():
        steps = d.transitions_from(state.name)
        if state.final or not steps:
            continue
        origin = state_id(state.name)
        if len(steps) > 1:
            gateway = model.add(Node(f"choice_{state.name}", "exclusiveGateway", "", model.nodes[origin].lane,
                                     GATEWAY, GATEWAY))
            model.flow(origin, gateway.id)
            origin = gateway.id
        for step in steps:
            # The gateway's condition names the step, so that a walk (or an engine) can choose the route.
            condition = f"action == '{step.name}'" if len(steps) > 1 else None
            model.flow(origin, state_id(step.dest), _label(step.label), condition)


def _timers(model: Model) -> None:
    d = model.definition
    for timer in d.timers:
        home = _timer_home(d, timer)
        if home is None or d.states[home].final:
            continue
        task = model.nodes[state_id(home)]
        event = model.add(Node(f"timer_{timer.name}", "boundaryEvent", _label(timer.label), task.lane, EVENT, EVENT,
                               attached_to=task.id, timer=timer))
        fired = d.transitions.get(timer.fire) if timer.fire else None
        if fired is not None and home in fired.sources:
            event.interrupting = True
            model.flow(event.id, state_id(fired.dest), _label(fired.label))
        else:
            # A timer that only notifies leaves the task running: a non-interrupting event ending in a notice.
            notice = model.add(Node(f"notice_{timer.name}", "endEvent", "", task.lane, EVENT, EVENT))
            model.flow(event.id, notice.id)


def build_model(definition: Definition) -> Model:
    model = Model(definition)
    _states(model)
    _steps(model)
    _timers(model)
    used = {n.lane for n in model.nodes.values()}
    model.lanes = [r for r in [*definition.roles, SYSTEM_ROLE] if r in used]
    for node in model.nodes.values():  # a state nobody acts in (cannot pass validation) still gets a lane
        if node.lane not in model.lanes:
            node.lane = model.lanes[0]
    return model


# -- layout ----------------------------------------------------------------------------------------


def _graphviz_columns(model: Model) -> dict[str, float]:
    """Each node's x along the flow, from Graphviz's left-to-right layout (boundary events excluded)."""
    graph = pydot.Dot(graph_type="digraph", rankdir="LR", nodesep="0.3", ranksep="0.6")
    for node in model.nodes.values():
        if node.kind != "boundaryEvent":
            graph.add_node(pydot.Node(f'"{node.id}"', shape="box", width=str(node.width / 72),
                                      height=str(node.height / 72), fixedsize="true", label='""'))
    for flow in model.flows:
        source = model.nodes[flow.source]
        origin = source.attached_to or flow.source
        graph.add_edge(pydot.Edge(f'"{origin}"', f'"{flow.target}"'))
    raw: bytes | str = graph.create(prog="dot", format="plain")
    plain = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    xs: dict[str, float] = {}
    for line in plain.splitlines():
        parts = line.split()
        if parts and parts[0] == "node":
            xs[parts[1].strip('"')] = float(parts[2])
    return xs


def layout(model: Model) -> tuple[dict[str, tuple[float, float, float, float]], float]:
    """Node positions (x, y of the top left corner), lane bands (lane -> x, y, w, h) and the pool width."""
    xs = _graphviz_columns(model)
    columns = {n: round(x * 72 / COLUMN) for n, x in xs.items()}
    rows: dict[tuple[str, int], int] = {}
    row_of: dict[str, int] = {}
    for node_id in sorted(columns, key=lambda n: (columns[n], n)):
        node = model.nodes[node_id]
        key = (node.lane, columns[node_id])
        row_of[node_id] = rows.get(key, 0)
        rows[key] = row_of[node_id] + 1
    lane_rows = {lane: max([r for (ln, _), r in rows.items() if ln == lane] or [1]) for lane in model.lanes}
    bands: dict[str, tuple[float, float, float, float]] = {}
    top = float(POOL_Y)
    width = (max(columns.values(), default=0) + 1) * COLUMN + LANE_LABEL + 80
    for lane in model.lanes:
        height = lane_rows[lane] * ROW_H + 20
        bands[lane] = (POOL_X + LANE_LABEL, top, width - LANE_LABEL, height)
        top += height
    for node_id, column in columns.items():
        node = model.nodes[node_id]
        band = bands[node.lane]
        centre_x = POOL_X + LANE_LABEL + 60 + column * COLUMN + TASK_W / 2
        centre_y = band[1] + 20 + row_of[node_id] * ROW_H + ROW_H / 2 - 10
        node.x, node.y = centre_x - node.width / 2, centre_y - node.height / 2
    for node in model.nodes.values():
        if node.attached_to is not None:
            _attach(node, model)
    return bands, width


# Boundary events side by side along a task's bottom edge; a task with more timers than fit there carries
# the rest along its top edge, so that every event still sits on the task's border (and none on another, up to
# six timers on one state; the shipped workflows have at most four).
PER_EDGE = (TASK_W - 10) // (EVENT + 4) + 1


def _attach(event: Node, model: Model) -> None:
    task = model.nodes[event.attached_to or ""]
    siblings = [n.id for n in model.nodes.values() if n.attached_to == task.id]
    edge, place = divmod(siblings.index(event.id), PER_EDGE)
    event.x = task.x + 10 + place * (EVENT + 4)
    event.y = (task.y + task.height if edge % 2 == 0 else task.y) - EVENT / 2


# -- XML -------------------------------------------------------------------------------------------


def _sub(parent: ET.Element, tag: str, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, _b(tag), attrs)


def _timer_xml(node: Node, element: ET.Element) -> None:
    timer = node.timer
    assert timer is not None
    definition = _sub(element, "bpmn:timerEventDefinition", id=f"{node.id}_definition")
    if timer.duration is not None:
        duration = _sub(definition, "bpmn:timeDuration", **{XSI_TYPE: "bpmn:tFormalExpression"})
        duration.text = iso_duration(timer.duration)
    else:  # a calendar deadline: the date is worked out per case from its field
        date = _sub(definition, "bpmn:timeDate", **{XSI_TYPE: "bpmn:tFormalExpression"})
        date.text = str(timer.length)


def _process(model: Model, root: ET.Element, process_id: str) -> None:
    d = model.definition
    process = _sub(root, "bpmn:process", id=process_id, name=_label(d.title), isExecutable="true")
    lane_set = _sub(process, "bpmn:laneSet", id=f"{process_id}_lanes")
    for lane in model.lanes:
        element = _sub(lane_set, "bpmn:lane", id=f"lane_{lane}",
                       name=_label(d.roles[lane]) if lane in d.roles else lane)
        for node in model.nodes.values():
            if node.lane == lane:
                _sub(element, "bpmn:flowNodeRef").text = node.id
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for flow in model.flows:
        outgoing.setdefault(flow.source, []).append(flow.id)
        incoming.setdefault(flow.target, []).append(flow.id)
    for node in model.nodes.values():
        attrs = {"id": node.id, "name": node.name}
        if node.kind == "boundaryEvent":
            assert node.attached_to is not None and node.timer is not None
            attrs["attachedToRef"] = node.attached_to
            attrs["cancelActivity"] = "true" if node.interrupting else "false"
        element = _sub(process, f"bpmn:{node.kind}", **attrs)
        if node.timer is not None:  # the schema's order: documentation, flows, then the event definition
            doc = _sub(element, "bpmn:documentation")
            doc.text = f"{node.timer.name}: {node.timer.length}" + (
                f", fires {node.timer.fire}" if node.timer.fire else "")
        for flow_id in incoming.get(node.id, []):
            _sub(element, "bpmn:incoming").text = flow_id
        for flow_id in outgoing.get(node.id, []):
            _sub(element, "bpmn:outgoing").text = flow_id
        if node.kind == "boundaryEvent":
            _timer_xml(node, element)
    for flow in model.flows:
        element = _sub(process, "bpmn:sequenceFlow", id=flow.id, name=flow.name, sourceRef=flow.source,
                       targetRef=flow.target)
        if flow.condition is not None:
            _sub(element, "bpmn:conditionExpression", **{XSI_TYPE: "bpmn:tFormalExpression"}).text = flow.condition


def _bounds(parent: ET.Element, x: float, y: float, w: float, h: float) -> None:
    _sub(parent, "dc:Bounds", x=f"{x:.0f}", y=f"{y:.0f}", width=f"{w:.0f}", height=f"{h:.0f}")


def _edge_points(model: Model, flow: Flow) -> list[tuple[float, float]]:
    s, t = model.nodes[flow.source], model.nodes[flow.target]
    start = (s.x + s.width, s.y + s.height / 2)
    if s.kind == "boundaryEvent":  # out of the event's outer side: below a bottom-edge event, above a top-edge one
        below = s.y > model.nodes[s.attached_to or ""].y
        start = (s.x + s.width / 2, s.y + s.height if below else s.y)
    end = (t.x, t.y + t.height / 2)
    if t.x <= s.x:  # a step back: leave from the top and come in from the top
        start, end = (s.x + s.width / 2, s.y), (t.x + t.width / 2, t.y)
        lift = min(s.y, t.y) - 25
        return [start, (start[0], lift), (end[0], lift), end]
    middle = (start[0] + end[0]) / 2
    return [start, (middle, start[1]), (middle, end[1]), end]


def _diagram(model: Model, root: ET.Element, process_id: str, collaboration: str) -> None:
    bands, width = layout(model)
    diagram = _sub(root, "bpmndi:BPMNDiagram", id="diagram")
    plane = _sub(diagram, "bpmndi:BPMNPlane", id="plane", bpmnElement=collaboration)
    height = sum(b[3] for b in bands.values())
    pool = _sub(plane, "bpmndi:BPMNShape", id="pool_di", bpmnElement="pool", isHorizontal="true")
    _bounds(pool, POOL_X, POOL_Y, width, height)
    for lane, band in bands.items():
        shape = _sub(plane, "bpmndi:BPMNShape", id=f"lane_{lane}_di", bpmnElement=f"lane_{lane}",
                     isHorizontal="true")
        _bounds(shape, *band)
    for node in model.nodes.values():
        attrs = {"id": f"{node.id}_di", "bpmnElement": node.id}
        if node.kind == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        shape = _sub(plane, "bpmndi:BPMNShape", **attrs)
        _bounds(shape, node.x, node.y, node.width, node.height)
        if node.attached_to is not None and node.y < model.nodes[node.attached_to].y:
            # A tool writes an event's name below it, which for one on a task's top edge is over the task.
            _bounds(_sub(shape, "bpmndi:BPMNLabel"), node.x - 27, node.y - LABEL_H - 2, node.width + 54, LABEL_H)
    for flow in model.flows:
        edge = _sub(plane, "bpmndi:BPMNEdge", id=f"{flow.id}_di", bpmnElement=flow.id)
        for x, y in _edge_points(model, flow):
            _sub(edge, "di:waypoint", x=f"{x:.0f}", y=f"{y:.0f}")


def to_bpmn(definition: Definition, version: int | None = None) -> str:
    """The definition as a BPMN 2.0 document (XML text) with its diagram."""
    model = build_model(definition)
    process_id = f"Process_{definition.key}"
    root = ET.Element(_b("bpmn:definitions"), {
        "id": f"Definitions_{definition.key}", "targetNamespace": "https://aftersales.example/bpmn",
        "exporter": "aftersales-workflow", "exporterVersion": str(version or 0),
        f"{{{NS['xsi']}}}schemaLocation":
            "http://www.omg.org/spec/BPMN/20100524/MODEL BPMN20.xsd",
    })
    collaboration = _sub(root, "bpmn:collaboration", id="collaboration")
    _sub(collaboration, "bpmn:participant", id="pool", name=_label(definition.title), processRef=process_id)
    _process(model, root, process_id)
    _diagram(model, root, process_id, "collaboration")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
