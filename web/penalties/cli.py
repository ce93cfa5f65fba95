"""The complaint duties, run once a day (cron, like `flask workflow tick`): escalations and the monthly
report's notice and reminder. Commits once."""

from __future__ import annotations

import click

from workflow.penalties import escalation
from workflow.reports import complaints

from ..extensions import clock, db_session


@click.command("complaint-duties")
def complaint_duties_command() -> None:
    """Escalate overdue complaints (000) and tell the GM office of last month's complaint report (by the 10th)."""
    session = db_session()
    escalated = escalation.escalate_overdue(session, clock())
    done = complaints.announce_due_reports(session, clock())
    session.commit()
    click.echo(f"escalations: {escalated}")
    for line in done:
        click.echo(line)


COMMANDS = {"workflow": [complaint_duties_command]}
