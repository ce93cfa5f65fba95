"""The appraisal's commands: `flask --app web staff|appraisal ...`. Each commits once."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from flask.cli import AppGroup

from workflow.appraisal import operations
from workflow.engine import SYSTEM, WorkflowError, actor_of
from workflow.engine.users import user_by_name

from .. import safe_csv
from ..extensions import clock, db_session

staff_cli = AppGroup("staff", help="The staff register: department, score-sheet template, pay, supervisor.")
appraisal_cli = AppGroup("appraisal", help="Monthly appraisal: open a month, coefficients, export.")


@staff_cli.command("set")
@click.argument("name")
@click.option("--department", required=True)
@click.option("--template", required=True, help="Score-sheet template, e.g. field_service")
@click.option("--standard-pay", required=True, type=str, help="Standard monthly performance pay (yuan)")
@click.option("--supervisor", required=True, help="User name of the direct supervisor")
@click.option("--inactive", is_flag=True, help="No sheet is opened for them any more")
def staff_set_command(name: str, department: str, template: str, standard_pay: str, supervisor: str,
                      inactive: bool) -> None:
    """Add an employee to the staff register, or change their entry."""
    try:
        operations.set_staff(db_session(), name, department, template, Decimal(standard_pay), supervisor,
                             active=not inactive)
    except (WorkflowError, InvalidOperation) as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    click.echo(f"{name}: {department}, {template}, standard pay {standard_pay}, supervisor {supervisor}")


@appraisal_cli.command("open-month")
@click.option("--department", required=True)
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--by", "actor", required=True, help="The user opening the month (one of the workflow's managers)")
def open_month_command(department: str, period: str, actor: str) -> None:
    """Open the month's sheet for every employee of a department."""
    user = user_by_name(db_session(), actor)
    if user is None:
        raise click.ClickException(f"no user {actor!r}")
    try:
        result = operations.open_month(db_session(), clock(), department, period, actor_of(user))
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    for case in result.opened:
        click.echo(f"opened case {case.id} for {case.data[operations.EMPLOYEE]}")
    for employee, why in result.skipped:
        click.echo(f"skipped {employee}: {why}")


@appraisal_cli.command("export")
@click.option("--department", required=True)
@click.option("--period", required=True, help="YYYY-MM")
def export_command(department: str, period: str) -> None:
    """Print the month's results, tab-separated: employee, total, grade, performance pay, state."""
    try:  # the operator reads every department
        view = operations.department_month(db_session(), department, period, SYSTEM)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    # Through safe_csv, like every export: pasted into a spreadsheet, no cell runs as a formula.
    rows: list[list[object]] = [[f"{department} {period} (department coefficient {view.coefficient})"]]
    rows += [[r.employee, r.total, r.grade, r.performance_pay, r.state] for r in view.rows]
    click.echo(safe_csv.to_text(rows, dialect="excel-tab", lineterminator="\n"), nl=False)


GROUPS = (staff_cli, appraisal_cli)
