"""Benchmark 2: our engine against SpiffWorkflow on the returned-goods inspection route.

SpiffWorkflow runs bench/return_inspection.bpmn as a stateless service must: for every step it reads
the case's serialised workflow from the database, deserialises it, lets due timers catch up, checks
the acting role against the task's lane, completes the ready user task with the step's inputs and
`action`, runs the engine steps (gateways, timers), serialises the workflow to JSON and writes it
back, committed. Ours takes the same steps through `advance` on the same file SQLite database and
driver. Both walk the route of bench/routes.py, step by step in alternation.

The second comparison leaves out SpiffWorkflow's database round trip (JSON in memory only), so it
is the most SpiffWorkflow could do in any service, still against our durable transition.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa

from .common import (
    Row,
    Stopwatch,
    make_clock,
    open_cases,
    publish_shipped,
    service_sessions,
    sqlite_database,
    step_once,
)
from .routes import RETURN_INSPECTION, Step

BPMN = Path(__file__).resolve().parent / "return_inspection.bpmn"
TARGET = 5.0
# Lanes of the BPMN model -> the roles that may complete a task in that lane (as in the YAML definition).
LANE_ROLES = {
    "service_lead": {"service_lead"}, "directors": {"quality_director", "qc_director"},
    "returns_clerk": {"returns_clerk"}, "fg_qa": {"fg_qa"}, "quality_director": {"quality_director"},
    "company_leader": {"company_leader"}, "finance": {"finance"},
}


class SpiffService:
    """A minimal stateless SpiffWorkflow service: one JSON document per case in a table."""

    def __init__(self, engine: sa.Engine):
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.parser import BpmnParser
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.util.task import TaskState

        parser = BpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec("return_inspection")  # parsed once, as a service caches it
        self.workflow_class = BpmnWorkflow
        self.ready = TaskState.READY
        self.serializer = BpmnWorkflowSerializer()
        self.raw = engine.raw_connection()
        self.conn: Any = cast(Any, self.raw.driver_connection)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_spiff_cases (id INTEGER PRIMARY KEY, task TEXT, workflow TEXT)"
        )
        self.conn.commit()
        self.compute = Stopwatch()  # deserialise + step + serialise, without the database

    def open(self, data: dict[str, Any]) -> int:
        workflow = self.workflow_class(self.spec)
        workflow.do_engine_steps()
        (task,) = workflow.get_tasks(state=self.ready, manual=True)
        task.data.update(data)
        cur = self.conn.execute(
            "INSERT INTO bench_spiff_cases (task, workflow) VALUES (?, ?)",
            (task.task_spec.name, self.serializer.serialize_json(workflow)),
        )
        self.conn.commit()
        return int(cur.lastrowid)

    def step(self, case_id: int, step: Step) -> str:
        (document,) = self.conn.execute("SELECT workflow FROM bench_spiff_cases WHERE id = ?", (case_id,)).fetchone()
        start = time.perf_counter()
        workflow = self.serializer.deserialize_json(document)
        workflow.refresh_waiting_tasks()  # timers that came due while the case rested
        workflow.do_engine_steps()
        ready = workflow.get_tasks(state=self.ready, manual=True)
        if len(ready) != 1:
            raise RuntimeError(f"spiff: case {case_id} has {len(ready)} ready user tasks")
        task = ready[0]
        if step.role not in LANE_ROLES[task.task_spec.lane]:
            raise RuntimeError(f"spiff: {step.role} may not act in lane {task.task_spec.lane}")
        task.data.update(step.inputs)
        task.data["action"] = step.action
        task.run()
        workflow.do_engine_steps()
        waiting = workflow.get_tasks(state=self.ready, manual=True)
        name = waiting[0].task_spec.name if waiting else "(completed)"
        document = self.serializer.serialize_json(workflow)
        self.compute.samples.append(time.perf_counter() - start)
        self.conn.execute("UPDATE bench_spiff_cases SET task = ?, workflow = ? WHERE id = ?", (name, document, case_id))
        self.conn.commit()
        return name

    def close(self) -> None:
        self.raw.close()


def run(quick: bool, workdir: Path, **_: Any) -> list[Row]:
    import SpiffWorkflow

    cases = 6 if quick else 40
    route = RETURN_INSPECTION
    url = sqlite_database(workdir / "spiff.db")
    engine = sa.create_engine(url)
    factory = service_sessions(engine)
    clock = make_clock()
    with factory() as session:
        publish_shipped(session, clock)
        ours_ids = open_cases(session, clock, route, 1 + cases)
        session.commit()
    spiff = SpiffService(engine)
    try:
        spiff_ids = [spiff.open(route.opening(n)) for n in range(1 + cases)]
        ours, theirs = Stopwatch(), Stopwatch()

        def walk_both(ours_id: int, spiff_id: int, ours_watch: Stopwatch, spiff_watch: Stopwatch,
                      ours_first: bool) -> None:
            # step by step in alternation, so both meet the same moment of a noisy machine
            for step in route.steps:
                for mine in ((True, False) if ours_first else (False, True)):
                    if mine:
                        with ours_watch.timing():
                            step_once(factory, clock, ours_id, step)
                    else:
                        with spiff_watch.timing():
                            spiff.step(spiff_id, step)
                ours_first = not ours_first

        walk_both(ours_ids[0], spiff_ids[0], Stopwatch(), Stopwatch(), True)  # warm-up
        spiff.compute.samples.clear()
        for n in range(1, 1 + cases):
            walk_both(ours_ids[n], spiff_ids[n], ours, theirs, n % 2 == 0)
        size = len(spiff.conn.execute(
            "SELECT workflow FROM bench_spiff_cases WHERE id = ?", (spiff_ids[1],)).fetchone()[0])
    finally:
        spiff.close()
        engine.dispose()
    version = getattr(SpiffWorkflow, "__version__", None) or _version("spiffworkflow")
    label = f"return_inspection, {len(route.steps)} steps × {cases} cases"
    speedup = theirs.mean_ms / ours.mean_ms
    compute_speedup = spiff.compute.mean_ms / ours.mean_ms
    return [
        Row("2 engine vs SpiffWorkflow", f"{label}: durable step, both on SQLite", ours.mean_ms, theirs.mean_ms,
            "ms", speedup, "spiff ÷ ours", f"≥ {TARGET}×", speedup >= TARGET,
            note=f"SpiffWorkflow {version}; its closed case is {size // 1024} KiB of JSON",
            extra={"median_ms": ours.median_ms, "spiff_median_ms": theirs.median_ms, "spiff_json_bytes": size}),
        Row("2 engine vs SpiffWorkflow", f"{label}: SpiffWorkflow JSON round trip + step only", ours.mean_ms,
            spiff.compute.mean_ms, "ms", compute_speedup, "spiff ÷ ours", f"≥ {TARGET}×",
            compute_speedup >= TARGET, note="no database on SpiffWorkflow's side; ours still durable",
            extra={"spiff_median_ms": spiff.compute.median_ms}),
    ]


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)
