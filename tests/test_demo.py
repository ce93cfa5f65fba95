"""The demo data that the README's first command serves."""

from __future__ import annotations

import sqlalchemy as sa

from web.extensions import db
from workflow.models import Case, User


def test_demo_seeds_workflows_users_and_cases_once(runner):
    first = runner.invoke(args=["workflow", "demo"])
    assert first.exit_code == 0, first.output
    assert "complaint: version 1 published" in first.output
    states = sorted(db.session.execute(sa.select(Case.workflow_key, Case.state)).all())
    assert states == [("appraisal", "goals"), ("appraisal", "goals"), ("complaint", "reported"),
                      ("replacement_part", "confirmed"), ("return_inspection", "approved")]
    second = runner.invoke(args=["workflow", "demo"])
    assert "no demo cases added" in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 5
    assert db.session.scalar(sa.select(User).where(User.name == "lead2")).roles == {"service_lead"}
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
