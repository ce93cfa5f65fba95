"""The service rules' commands: `flask --app web closeout draw-up|approve|settle` and
`flask --app web workflow service-targets`. Each commits once."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from workflow.closeout import operations as closeout
from workflow.closeout.models import BREACHED
from workflow.engine import SYSTEM, WorkflowError, actor_of
from workflow.engine.policy import Actor
from workflow.engine.users import user_by_name
from workflow.reports import service_targets as targets

from .. import safe_csv
from ..extensions import clock, db_session
from .api import targets_csv_rows

closeout_cli = AppGroup("closeout", help="The parts closeout every 15 days (002 §4.5): lists, approval, breaches.")


def _actor(name: str) -> Actor:
    user = user_by_name(db_session(), name)
    if user is None:
        raise click.ClickException(f"no user {name!r}")
    return actor_of(user)


@closeout_cli.command("draw-up")
@click.option("--by", "actor", required=True, help="The service lead drawing up the list")
def draw_up_command(actor: str) -> None:
    """List every part still owed (欠补件明细)."""
    try:
        drawn = closeout.draw_up(db_session(), clock(), _actor(actor))
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    click.echo(f"closeout list {drawn.id}: {len(drawn.lines)} part(s) owed")


@closeout_cli.command("approve")
@click.argument("list_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--by", "actor", required=True, help="The quality director approving it")
@click.option("--instructed", required=True, help="User name of the person of production instructed")
def approve_command(list_id: int, actor: str, instructed: str) -> None:
    """Approve a list and send the closeout instruction, with its grace."""
    try:
        drawn = closeout.approve(db_session(), clock(), _actor(actor), list_id, instructed)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    assert drawn.grace_until is not None
    click.echo(f"closeout list {drawn.id} approved; {instructed} has until "
               f"{clock().local(drawn.grace_until):%Y-%m-%d %H:%M}")


@closeout_cli.command("settle")
def settle_command() -> None:
    """Record a breach for every part still owed after its list's grace (run it daily, like the worker)."""
    settled = closeout.settle(db_session(), clock(), SYSTEM.name)
    db_session().commit()
    for drawn in settled:
        breaches = sum(1 for line in drawn.lines if line.outcome == BREACHED)
        click.echo(f"closeout list {drawn.id}: {breaches} breach(es) of {len(drawn.lines)} part(s)")


@click.command("service-targets")
@click.argument("month")
@click.option("--by", "actor", required=True, help="The user reading the report")
def service_targets_command(month: str, actor: str) -> None:
    """A month's service targets as CSV on standard output."""
    try:
        report = targets.service_targets(db_session(), clock(), month, _actor(actor))
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(safe_csv.to_text(targets_csv_rows(report)), nl=False)


GROUPS = (closeout_cli,)
COMMANDS = {"workflow": [service_targets_command]}
