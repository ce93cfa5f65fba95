"""Demo data (`flask workflow demo`): the shipped workflows, the demo department's users and staff register
(workflow/definitions/demo/department.yaml), and one case per workflow walked along its golden path."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow import golden_paths
from workflow.appraisal import open_month, set_staff
from workflow.appraisal.templates import publish_shipped
from workflow.definitions import shipped_files
from workflow.engine import Actor, Clock, WorkflowError, advance, open_case, publish_definition, workflow_of
from workflow.engine.users import create_user, user_by_name
from workflow.golden_paths import Demo, GoldenPaths
from workflow.golden_paths import Path as GoldenPath
from workflow.models import Case
from workflow.penalties.ledger import allocate_loss, decide_entry, record_penalty
from workflow.penalties.models import WARNING
from workflow.penalties.rules import COMPLAINT, current_rules

DEPARTMENT = Path(__file__).parent / "definitions" / "demo" / "department.yaml"
FOUNDED = "closed"  # the complaint's final state of a founded complaint: its loss is shared (行政处罚准则 (一))


def _department() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEPARTMENT.read_text("utf-8"))
    return data


def seed(session: Session, clock: Clock) -> Iterator[str]:
    now = clock.now()
    for f in shipped_files():
        version, created = publish_definition(session, f.read_text(encoding="utf-8"), str(f), "demo", now, f.stem,
                                              reason="the shipped definition")
        yield f"{version.key}: version {version.version} {'published' if created else 'unchanged'}"
    for sheet, created in publish_shipped(session, "demo", now):
        yield f"score sheet {sheet.key}: version {sheet.version} {'published' if created else 'unchanged'}"
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

    made = sum(1 for _ in _department_history(session, clock, department))
    yield f"{made} earlier cases of the department, opened over the last {department['history']['days']} days"

    for entry in department["staff"]:
        set_staff(session, entry["name"], entry["department"], entry["template"], Decimal(entry["standard_pay"]),
                  entry["supervisor"], active=entry.get("active", True))
    month = department["open_month"]
    period = clock.local(clock.now()).strftime("%Y-%m")
    opened = open_month(session, clock, month["department"], period, _user(month["by"], users))
    yield f"appraisal {period}: {len(opened.opened)} sheet(s) opened for {month['department']}"
    yield from _last_month(session, clock, department)


def _month_before(clock: Clock) -> tuple[date, date]:
    """The first and the last day of the month before today's (local time)."""
    first_of_this = clock.local(clock.now()).date().replace(day=1)
    last = first_of_this - timedelta(days=1)
    return last.replace(day=1), last


def _last_month(session: Session, clock: Clock, department: dict[str, Any]) -> Iterator[str]:
    """The month just ended, as the complaint report and the penalty ledger show it: complaints opened and
    closed within it, warnings on its staff (one approved, one still proposed: a minor demerit would exceed the
    demo staff's monthly cap) and the loss of a complaint closed in it shared out, charged to the month its
    resale period ends (行政处罚准则 (二)), which is this month."""
    users: dict[str, list[str]] = department["users"]
    history = department["history"]
    rng = random.Random(history["seed"] + 1)
    first, last = _month_before(clock)
    period = f"{first:%Y-%m}"
    opened_at = datetime.combine(first + timedelta(days=1), time(9), tzinfo=clock.tz).astimezone(UTC)
    ended_at = datetime.combine(last - timedelta(days=1), time(17), tzinfo=clock.tz).astimezone(UTC)
    paths = golden_paths.load(COMPLAINT)
    closed = []
    for path in paths.paths.values():
        case = _walked(session, clock, paths, path, len(path.steps), opened_at, ended_at, rng, history, users)
        if workflow_of(case.version).definition.is_final(case.state):
            closed.append(case)
    yield f"complaints of {period}: {len(closed)} opened and closed in the month"

    rules = current_rules(session)
    recorder = _holder(rules.penalty_recorder, users)
    staff = [entry["name"] for entry in department["staff"] if entry.get("active", True)]
    warning = record_penalty(session, clock, person=staff[0], period=period, kind=WARNING, actor=recorder,
                             reason="Customer callback missed twice (客户回访两次未做)")
    decide_entry(session, clock, warning.id, _holder(rules.approver_for(WARNING), users), approve=True)
    record_penalty(session, clock, person=staff[-1], period=period, kind=WARNING, actor=recorder,
                   reason="Repair report filed a week late (维修报告迟交一周)")
    shared = next((c for c in closed if c.state == FOUNDED), None)
    if shared is not None:
        allocate_loss(session, clock, case_id=shared.id, actor=recorder,
                      shares={staff[0]: Decimal(60), staff[-1]: Decimal(40)} if len(staff) > 1
                      else {staff[0]: Decimal(100)},
                      reason="Loss of the founded complaint shared by fault (按责任分摊损失)",
                      loss_amount=None if shared.data.get("responsible_loss") is not None else Decimal("2000"))
    yield f"penalties of {period}: a warning approved, another proposed" + (
        ", a complaint's loss shared" if shared is not None else "")


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


def _department_history(session: Session, clock: Clock, department: dict[str, Any]) -> Iterator[Case]:
    """Cases opened over the last weeks and walked along every path of every workflow to every depth, so that
    each state has cases in it, some of them overdue, and the lists, reports and searches show a working
    department. The walk is seeded: the same demo every time. A step that its rules refuse at the moment it
    falls on (a window closed, a guard on the date) ends that case's walk where it is."""
    history = department["history"]
    rng = random.Random(history["seed"])
    users: dict[str, list[str]] = department["users"]
    now = clock.now()
    for paths in golden_paths.load_all().values():
        if paths.staff:  # the appraisal's sheets are opened per month (open_month), not one by one
            continue
        for name, path in paths.paths.items():
            copies = 2 if name == paths.golden else 1
            for depth in range(len(path.steps) + 1):
                for _ in range(copies):
                    # Most cases are recent, a few old: the age's square root is uniform.
                    opened_at = now - timedelta(days=1 + (history["days"] - 1) * rng.random() ** 2)
                    yield _walked(session, clock, paths, path, depth, opened_at, now, rng, history, users)


def _walked(session: Session, clock: Clock, paths: GoldenPaths, path: GoldenPath, depth: int, opened_at: datetime,
            now: datetime, rng: random.Random, history: dict[str, Any], users: dict[str, list[str]]) -> Case:
    first = path.first_date()
    if first is not None:
        path = path.moved_by((clock.local(opened_at).date() - first).days)
    data = dict(path.data)
    for field, choices in history["variety"].items():
        if field in data:
            data[field] = rng.choice(choices)
    moment = [opened_at]
    then = replace(clock, now_fn=lambda: moment[0])
    case = open_case(session, then, paths.workflow, data, _holder(paths.opener, users))
    gap = (now - opened_at) / (depth + 1)
    for step in path.steps[:depth]:
        moment[0] += gap * rng.uniform(0.3, 1.0)
        try:
            with session.begin_nested():
                advance(session, then, case, step.action, _holder(step.role, users), step.inputs)
        except WorkflowError:
            break
    return case
