"""BPMN 2.0 export (issue 13, item 6): every shipped definition exports to a document the BPMN 2.0 schema
accepts and SpiffWorkflow's parser reads; a walk of the parsed process visits the definition's states and
takes its steps; every node has its place in the diagram."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator

from workflow.bpmn import NS, build_model, iso_duration, layout, state_id, to_bpmn
from workflow.definitions import Definition
from workflow.definitions.loader import load_text, shipped_files
from workflow.definitions.schema import Duration

from .test_ui import Person

SHIPPED = {f.stem: load_text(f.read_text("utf-8"), str(f), f.stem) for f in shipped_files()}


def parsed(definition: Definition):
    parser = BpmnParser(validator=BpmnValidator())  # the BPMN 2.0 XSD first, then Spiff's own reading
    parser.add_bpmn_str(to_bpmn(definition).encode("utf-8"))
    return parser.get_spec(f"Process_{definition.key}")


def walk(spec) -> dict[str, object]:
    """Every task spec reachable from the start, by its BPMN id."""
    seen: dict[str, object] = {}
    todo, visited = [spec.start], set()
    while todo:
        task = todo.pop()
        if task.name in visited:
            continue
        visited.add(task.name)
        if getattr(task, "bpmn_id", None):
            seen[task.bpmn_id] = task
        todo.extend(task.outputs)
    return seen


def next_states(task) -> set[str]:
    """The states one step from a state's task: through gateways and Spiff's own joins, to the next state."""
    found, todo, visited = set(), list(task.outputs), set()
    while todo:
        t = todo.pop()
        if t.name in visited:
            continue
        visited.add(t.name)
        bpmn_id = getattr(t, "bpmn_id", None) or ""
        if bpmn_id.startswith("state_"):
            found.add(bpmn_id.removeprefix("state_"))
        elif not bpmn_id.startswith(("timer_", "notice_")):
            todo.extend(t.outputs)
    return found


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_a_walk_of_the_parsed_process_visits_the_states_and_takes_the_steps_of_the_definition(key):
    definition = SHIPPED[key]
    seen = walk(parsed(definition))
    assert {i.removeprefix("state_") for i in seen if i.startswith("state_")} == set(definition.states)
    for state in definition.states.values():
        task = seen[state_id(state.name)]
        kind = type(task).__name__
        assert kind == ("EndEvent" if state.final else "UserTask"), state.name
        steps = {t.dest for t in definition.transitions_from(state.name)}
        assert next_states(task) == steps, state.name


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_user_tasks_sit_in_the_lane_of_a_role_that_acts_there_and_timers_are_boundary_events(key):
    definition = SHIPPED[key]
    seen = walk(parsed(definition))
    lanes = {label["zh"] + " " + label["en"]: role for role, label in definition.roles.items()}
    for state in definition.states.values():
        if state.final:
            continue
        task = seen[state_id(state.name)]
        acting = {r for t in definition.transitions_from(state.name) for r in t.roles}
        assert lanes.get(task.lane, task.lane) in acting, state.name
    timers = {i.removeprefix("timer_") for i in seen if i.startswith("timer_")}
    assert timers <= {t.name for t in definition.timers} and timers


def test_a_timer_that_fires_a_step_interrupts_and_the_others_do_not():
    root = ET.fromstring(to_bpmn(SHIPPED["return_inspection"]))
    events = {e.get("id"): e for e in root.iter(f"{{{NS['bpmn']}}}boundaryEvent")}
    assert events["timer_deemed_consent"].get("cancelActivity") == "true"
    assert events["timer_deemed_consent"].get("attachedToRef") == "state_awaiting_customer"
    assert events["timer_inspection"].get("cancelActivity") == "false"
    duration = events["timer_inspection"].find(f".//{{{NS['bpmn']}}}timeDuration")
    assert duration is not None and duration.text == "PT48H"


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_every_node_and_flow_has_its_place_in_the_diagram(key):
    root = ET.fromstring(to_bpmn(SHIPPED[key]))
    process = root.find(f"{{{NS['bpmn']}}}process")
    assert process is not None
    nodes = {e.get("id") for e in process if e.tag.split("}")[1] in (
        "userTask", "startEvent", "endEvent", "exclusiveGateway", "boundaryEvent")}
    flows = {e.get("id") for e in process if e.tag.endswith("sequenceFlow")}
    lanes = {e.get("id") for e in root.iter(f"{{{NS['bpmn']}}}lane")}
    shapes = {e.get("bpmnElement"): e for e in root.iter(f"{{{NS['bpmndi']}}}BPMNShape")}
    edges = {e.get("bpmnElement"): e for e in root.iter(f"{{{NS['bpmndi']}}}BPMNEdge")}
    assert nodes | lanes | {"pool"} == set(shapes)
    assert flows == set(edges)
    assert all(len(edge.findall(f"{{{NS['di']}}}waypoint")) >= 2 for edge in edges.values())
    # No two nodes of the diagram on top of each other (boundary events sit on their task's edge).
    boxes = []
    for node_id in nodes:
        bounds = shapes[node_id].find(f"{{{NS['dc']}}}Bounds")
        assert bounds is not None
        if not node_id.startswith("timer_"):
            boxes.append((node_id, *(float(bounds.get(k) or 0) for k in ("x", "y", "width", "height"))))
    for i, (a, ax, ay, aw, ah) in enumerate(boxes):
        for b, bx, by, bw, bh in boxes[i + 1:]:
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a, b)


def test_durations_are_iso_8601():
    assert [iso_duration(Duration(n, u)) for n, u in ((48, "h"), (3, "d"), (2, "wd"), (4, "wh"))] == [
        "PT48H", "P3D", "P2D", "PT4H"]


def test_the_api_exports_a_version_as_bpmn_and_refuses_an_unknown_one(api):
    response = api.get("service_lead", "/api/v1/workflows/return_inspection/bpmn?version=1")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert ET.fromstring(response.data).find(f"{{{NS['bpmn']}}}process").get("id") == "Process_return_inspection"
    assert api.get("service_lead", "/api/v1/workflows/return_inspection/bpmn?version=9").status_code == 404
    assert api.get("service_lead", "/api/v1/workflows/nothing_here/bpmn").status_code == 404


def test_the_cli_prints_a_version_as_bpmn(runner, published):
    printed = runner.invoke(args=["workflow", "bpmn", "complaint", "--version", "1"])
    assert printed.exit_code == 0
    assert ET.fromstring(printed.output).find(f"{{{NS['bpmn']}}}process").get("id") == "Process_complaint"
    missing = runner.invoke(args=["workflow", "bpmn", "complaint", "--version", "7"])
    assert missing.exit_code == 1 and "no version 7" in missing.output


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_each_timer_sits_on_the_border_of_its_own_task_and_on_no_other_node(key):
    root = ET.fromstring(to_bpmn(SHIPPED[key]))
    boxes = {}
    for shape in root.iter(f"{{{NS['bpmndi']}}}BPMNShape"):
        bounds = shape.find(f"{{{NS['dc']}}}Bounds")
        assert bounds is not None
        boxes[shape.get("bpmnElement")] = tuple(float(bounds.get(k) or 0) for k in ("x", "y", "width", "height"))
    hosts = {e.get("id"): e.get("attachedToRef") for e in root.iter(f"{{{NS['bpmn']}}}boundaryEvent")}
    nodes = [n for n in boxes if n != "pool" and not n.startswith("lane_")]
    for timer, host in hosts.items():
        x, y, w, h = boxes[timer]
        hx, hy, hw, hh = boxes[host]
        centre = (x + w / 2, y + h / 2)
        on_edge = hx <= centre[0] <= hx + hw and centre[1] in (hy, hy + hh)
        assert on_edge, timer
        touched = [n for n in nodes if n != timer and _overlap(boxes[timer], boxes[n])]
        assert touched == [host], timer


def test_a_state_with_many_timers_carries_them_on_two_edges():
    model = build_model(SHIPPED["repair_dispatch"])
    layout(model)
    events = [n for n in model.nodes.values() if n.attached_to == "state_call_logged"]
    assert len(events) == 4
    task = model.nodes["state_call_logged"]
    assert {e.y + e.height / 2 for e in events} == {task.y, task.y + task.height}


def test_the_bpmn_page_follows_the_policy_of_reading_the_workflow(app, staff):
    staff("lead", "service_lead")
    staff("nobody", "no_such_role")
    lead = Person(app, "lead")
    page = lead.get("/workflows/return_inspection/bpmn/view?version=1")
    assert page.status_code == 200
    # The viewer's script and styles come from the app itself, and the file it draws from the download route.
    assert "/static/vendor/bpmn-viewer.js" in page.text and "/static/vendor/diagram-js.css" in page.text
    assert 'data-src="/workflows/return_inspection/bpmn?version=1"' in page.text
    assert lead.get("/workflows/return_inspection/bpmn/view?version=9").status_code == 404
    assert lead.get("/workflows/appraisal/bpmn/view").status_code == 404  # not a role of the lead's
    assert Person(app, "nobody").get("/workflows/return_inspection/bpmn/view").status_code == 404
    assert lead.get(f"/workflows/{'x' * 200}/bpmn/view").status_code == 404
