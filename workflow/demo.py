"""Demo data (`flask workflow demo`): the shipped workflows, the demo department's users and staff register
(workflow/definitions/demo/department.yaml), and one case per workflow walked along its golden path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow import golden_paths
from workflow.appraisal import open_month, set_staff
from workflow.definitions import shipped_files
from workflow.engine import Actor, Clock, advance, open_case, publish_definition, workflow_of
from workflow.engine.users import create_user, user_by_name
from workflow.golden_paths import Demo, GoldenPaths
from workflow.models import Case

DEPARTMENT = Path(__file__).parent / "definitions" / "demo" / "department.yaml"


def _department() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEPARTMENT.read_text("utf-8"))
    return data


def seed(session: Session, clock: Clock) -> Iterator[str]:
    now = clock.now()
    for f in shipped_files():
        version, created = publish_definition(session, f.read_text(encoding="utf-8"), str(f), "demo", now, f.stem)
        yield f"{version.key}: version {version.version} {'published' if created else 'unchanged'}"
    department = _department()
    users: dict[str, list[str]] = department["users"]
    for name, roles in users.items():
        if user_by_name(session, name) is None:
            create_user(session, name, roles, now, password=f"{name}-demo-pass")
    yield f"{len(users)} demo users (password: the name followed by -demo-pass, e.g. lead-demo-pass)"
    if session.scalar(select(func.count()).select_from(Case)):
        yield "cases exist already: no demo cases added"
        return
    yield from _demo_cases(session, clock, department)


def _demo_cases(session: Session, clock: Clock, department: dict[str, Any]) -> Iterator[str]:
    users: dict[str, list[str]] = department["users"]
    today = clock.local(clock.now()).date()
    cases = [_demo_case(session, clock, paths, paths.demo, today, users)
             for paths in golden_paths.load_all().values() if paths.demo is not None]
    for c in cases:
        definition = workflow_of(c.version).definition
        yield f"demo case {c.number or c.id}: {definition.title['en']} — {c.state}"

    for entry in department["staff"]:
        set_staff(session, entry["name"], entry["department"], entry["template"], Decimal(entry["standard_pay"]),
                  entry["supervisor"], active=entry.get("active", True))
    month = department["open_month"]
    period = clock.local(clock.now()).strftime("%Y-%m")
    opened = open_month(session, clock, month["department"], period, _user(month["by"], users))
    yield f"appraisal {period}: {len(opened.opened)} sheet(s) opened for {month['department']}"


def _user(name: str, users: dict[str, list[str]]) -> Actor:
    return Actor(name, frozenset(users[name]))


def _holder(role: str, users: dict[str, list[str]]) -> Actor:
    """The first demo user who holds `role`."""
    return _user(next(name for name, roles in users.items() if role in roles), users)


def _demo_case(
    session: Session, clock: Clock, paths: GoldenPaths, demo: Demo, today: date, users: dict[str, list[str]]
) -> Case:
    """A case opened with the demo's data and walked along the workflow's golden path until the demo's state.

    The path's dates move to today (a request made today, its promise as many days later as on the path),
    so that no demo case starts out overdue."""
    path = paths.main
    first = path.first_date()
    if first is not None:
        path = path.moved_by((today - first).days)
    case = open_case(session, clock, paths.workflow, {**path.data, **demo.data}, _holder(paths.opener, users))
    for step in path.steps:
        if case.state == demo.until:
            break
        advance(session, clock, case, step.action, _holder(step.role, users), step.inputs)
    if case.state != demo.until:
        raise ValueError(f"the golden path of {paths.workflow} never reaches the demo's state {demo.until}")
    return case
