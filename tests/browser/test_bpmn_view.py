"""The BPMN 2.0 export opened in bpmn.io's viewer (issue 13, item 6): for every shipped workflow the workbench's
BPMN page imports the file without a warning, draws one shape per user task and per lane, and no two shapes
of the flow sit on each other (their boxes are the DI's bounds as the viewer read them)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from workflow.bpmn import build_model, state_id
from workflow.definitions.loader import load_text, shipped_files

from .test_scenario import sign_in

pytestmark = pytest.mark.browser

SHIPPED = {f.stem: load_text(f.read_text("utf-8"), str(f), f.stem) for f in shipped_files()}

# What the viewer drew, by BPMN type: each shape's id, box and (for a boundary event) the task it sits on.
DRAWN = """() => window.bpmnViewer.get("elementRegistry").filter((e) => e.parent && !e.waypoints && e.type !== "label")
    .map((e) => ({id: e.id, type: e.type, x: e.x, y: e.y, w: e.width, h: e.height,
                  host: e.host ? e.host.id : null, lane: e.type === "bpmn:Lane"}))"""


def overlapping(a: dict, b: dict) -> bool:
    apart_x = a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
    apart_y = a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"]
    return not (apart_x or apart_y)


def open_viewer(page: Page, key: str) -> list[dict]:
    page.goto(f"/workflows/{key}")
    page.get_by_test_id("bpmn-view").click()
    viewer = page.get_by_test_id("bpmn-viewer")
    expect(viewer).to_have_attribute("data-warnings", "0")
    assert viewer.get_attribute("data-error") is None
    expect(viewer.locator(".djs-container svg")).to_be_visible()
    drawn: list[dict] = page.evaluate(DRAWN)
    return drawn


@pytest.fixture
def owner(staff, new_page) -> Page:
    staff("owner", "process_owner")
    page: Page = new_page("en-US")
    sign_in(page, "owner")
    return page


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_every_shipped_workflow_opens_in_the_bpmn_viewer_laid_out(owner, key, screenshot):
    definition = SHIPPED[key]
    drawn = open_viewer(owner, key)
    by_type: dict[str, list[dict]] = {}
    for shape in drawn:
        by_type.setdefault(shape["type"], []).append(shape)

    tasks = {s["id"] for s in by_type.get("bpmn:UserTask", [])}
    assert tasks == {state_id(s.name) for s in definition.states.values() if not s.final}
    lanes = {s["id"] for s in by_type.get("bpmn:Lane", [])}
    assert lanes == {f"lane_{lane}" for lane in build_model(definition).lanes}
    assert len(by_type["bpmn:Participant"]) == 1

    # Every node of the flow has a place of its own; a timer sits on the edge of its task, which is the point.
    placed = [s for s in drawn if s["type"] not in ("bpmn:Lane", "bpmn:Participant", "bpmn:BoundaryEvent")]
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            assert not overlapping(a, b), (a["id"], b["id"])
    timers = by_type.get("bpmn:BoundaryEvent", [])
    for timer in timers:
        assert [s["id"] for s in placed if overlapping(timer, s)] == [timer["host"]], timer["id"]
        assert not [t["id"] for t in timers if t is not timer and overlapping(timer, t)], timer["id"]
    # And each task inside its lane's band.
    model = build_model(definition)
    for task_id in tasks:
        task = next(s for s in drawn if s["id"] == task_id)
        lane = next(s for s in drawn if s["id"] == f"lane_{model.nodes[task_id].lane}")
        assert lane["y"] <= task["y"] and task["y"] + task["h"] <= lane["y"] + lane["h"], task_id

    if key == "return_inspection":
        screenshot(owner, "workbench-bpmn")


def test_the_bpmn_page_is_refused_for_a_workflow_nobody_published(owner):
    response = owner.goto("/workflows/no_such_workflow/bpmn/view")
    assert response is not None and response.status == 404
