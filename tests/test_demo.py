"""The demo data that the README's first command serves."""

from __future__ import annotations

import sqlalchemy as sa

from web.extensions import db
from workflow import golden_paths
from workflow.models import Case, Timer, User, WorkflowVersion


def test_demo_seeds_workflows_users_and_cases_once(runner, clock):
    first = runner.invoke(args=["workflow", "demo"])
    assert first.exit_code == 0, first.output
    assert "complaint: version 1 published" in first.output
    assert set(db.session.scalars(sa.select(WorkflowVersion.reason))) == {"the shipped definition"}
    states = set(db.session.execute(sa.select(Case.workflow_key, Case.state)).all())
    # The headline cases, one per workflow, with the demo's own data.
    assert {("complaint", "reported"), ("replacement_part", "confirmed"), ("return_inspection", "approved"),
            ("appraisal", "goals")} <= states
    # Every state a path passes through has a case in it: each page shows something on first sign-in.
    for paths in golden_paths.load_all().values():
        if paths.staff:
            continue
        passed = {(paths.workflow, step.to) for path in paths.paths.values() for step in path.steps}
        assert passed - states == set(), paths.workflow
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Case))
    assert 150 <= count <= 260
    overdue = db.session.scalar(sa.select(sa.func.count()).select_from(Timer).where(
        Timer.status == "running", Timer.due_at < clock.now()))
    running = db.session.scalar(sa.select(sa.func.count()).select_from(Timer).where(Timer.status == "running"))
    assert 0 < overdue < running  # some overdue, not all
    second = runner.invoke(args=["workflow", "demo"])
    assert "no demo cases added" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == count
    assert db.session.scalar(sa.select(User).where(User.name == "lead2")).roles == {"service_lead"}
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_the_demo_cases_have_varied_customers_and_searchable_words(runner):
    assert runner.invoke(args=["workflow", "demo"]).exit_code == 0
    rows = db.session.execute(sa.select(Case.workflow_key, Case.state, Case.data).order_by(Case.id)).all()
    assert any("XJ-200" in str(data) for _, _, data in rows)
    assert len({data.get("customer") for _, _, data in rows if isinstance(data, dict)}) >= 5


def test_the_demo_shows_last_months_complaint_report_and_penalties(runner, clock, app, staff):
    from workflow.demo import _month_before
    from workflow.engine import Actor
    from workflow.penalties.ledger import entries_of_month
    from workflow.reports.complaints import complaint_report

    from .test_ui import Person

    result = runner.invoke(args=["workflow", "demo"])
    assert result.exit_code == 0, result.output
    period = f"{_month_before(clock)[0]:%Y-%m}"
    assert f"complaints of {period}:" in result.output
    report = complaint_report(db.session, clock, period, Actor("gmoffice", frozenset({"gm_office"})))
    assert report.closed >= 2 and any(row.outcome == "closed" for row in report.rows)
    entries = entries_of_month(db.session, period)
    assert {(e.kind, e.status) for e in entries} >= {("warning", "approved"), ("warning", "proposed")}
    shared = [e for e in entries_of_month(db.session, f"{clock.local(clock.now()):%Y-%m}") if e.kind == "loss_share"]
    assert shared and sum(e.share for e in shared) == 100
    # As the GM office sees them on first sign-in (the demo users' passwords: the name and -demo-pass).
    office = Person(app, "gmoffice")
    page = office.get(f"/reports/complaints/{period}")
    assert page.status_code == 200 and report.rows[0].customer in page.text
    ledger = office.get(f"/penalties/{period}")
    assert ledger.status_code == 200 and "employee" in ledger.text
