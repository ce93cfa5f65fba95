"""Demo data: the shipped workflows, one user per role (password `<name>-demo-pass`), and a few cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.definitions import shipped_files
from workflow.engine import Actor, Clock, advance, open_case, publish_definition, workflow_of
from workflow.engine.appraisal import open_month, set_staff
from workflow.engine.users import create_user, user_by_name
from workflow.models import Case

DEMO_USERS = {
    # name: roles. Two people per approving role, so that four-eyes steps can be shown.
    "specialist": ["service_specialist"], "lead": ["service_lead"], "lead2": ["service_lead"],
    "director": ["quality_director"], "qc": ["qc_director"], "qa": ["fg_qa"], "clerk": ["returns_clerk"],
    "production": ["production"], "warehouse": ["warehouse"], "shipper": ["parts_shipper"],
    "salesclerk": ["sales_clerk"], "salesfinance": ["sales_finance"], "logistics": ["logistics"],
    "sales": ["sales"], "salesmgr": ["sales_manager"], "gmoffice": ["gm_office"],
    "quality": ["quality_dept"], "manufacturing": ["manufacturing"], "rnd": ["rnd"],
    "deputy": ["deputy_gm"], "gm": ["gm"], "finance": ["finance"], "leader": ["company_leader"],
    "employee": ["employee"], "technician": ["employee", "technician"], "supervisor": ["supervisor"],
    "head": ["dept_head"], "hr": ["hr"], "clerk2": ["service_clerk"], "dispatcher": ["service_supervisor"],
    "owner": ["process_owner"], "auditor": ["auditor"], "admin": ["admin"],
}


def seed(session: Session, clock: Clock) -> Iterator[str]:
    now = clock.now()
    for f in shipped_files():
        version, created = publish_definition(session, f.read_text(encoding="utf-8"), str(f), "demo", now, f.stem)
        yield f"{version.key}: version {version.version} {'published' if created else 'unchanged'}"
    for name, roles in DEMO_USERS.items():
        if user_by_name(session, name) is None:
            create_user(session, name, roles, now, password=f"{name}-demo-pass")
    yield f"{len(DEMO_USERS)} demo users (password: the name followed by -demo-pass, e.g. lead-demo-pass)"
    if session.scalar(select(func.count()).select_from(Case)):
        yield "cases exist already: no demo cases added"
        return
    yield from _demo_cases(session, clock)


def _demo_cases(session: Session, clock: Clock) -> Iterator[str]:
    def person(name: str) -> Actor:
        return Actor(name, frozenset(DEMO_USERS[name]))

    today = clock.local(clock.now()).date()
    part = open_case(session, clock, "replacement_part", {
        "customer": "华东机电有限公司", "product": "XJ-200 控制柜", "part": "门锁组件", "quantity": 2,
        "reason": "运输途中门锁损坏", "request_date": today.isoformat(),
    }, person("specialist"))
    advance(session, clock, part, "analyse", person("specialist"),
            {"cause": "production_process", "charge": "free"})
    advance(session, clock, part, "confirm_with_customer", person("specialist"),
            {"promised_date": (today + timedelta(days=10)).isoformat()})

    ret = open_case(session, clock, "return_inspection", {
        "customer": "Northwind Trading", "products": "XJ-200 × 3", "quantity": 3,
        "reason": "Noise during operation",
    }, person("lead"))
    advance(session, clock, ret, "collect_opinions", person("lead"),
            {"application_ref": "RA-2611-001", "opinions": "品质办同意退货检验"})
    advance(session, clock, ret, "approve", person("director"), {})

    complaint = open_case(session, clock, "complaint", {
        "customer": "Pacific Components", "market": "foreign", "order_number": "SO-88231",
        "part_number": "P-4410", "description": "Burrs on the flange; 37 of 500 rejected at incoming inspection",
    }, person("sales"))
    for c in (part, ret, complaint):
        definition = workflow_of(c.version).definition
        yield f"demo case {c.number or c.id}: {definition.title['en']} — {c.state}"

    set_staff(session, "employee", "售后服务部", "field_service", Decimal("1500"), "supervisor")
    set_staff(session, "technician", "售后服务部", "repair", Decimal("1200"), "supervisor")
    # The head is on the register for their department (whose sheets they review) but is appraised above it.
    set_staff(session, "head", "售后服务部", "field_service", Decimal("3000"), "gm", active=False)
    period = clock.local(clock.now()).strftime("%Y-%m")
    opened = open_month(session, clock, "售后服务部", period, person("hr"))
    yield f"appraisal {period}: {len(opened.opened)} sheet(s) opened for 售后服务部"
