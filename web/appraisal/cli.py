"""The appraisal's commands: `flask --app web staff|appraisal ...`. Each commits once."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import click
from flask.cli import AppGroup

from workflow.appraisal import distribution, operations, rules
from workflow.engine import SYSTEM, WorkflowError, actor_of
from workflow.engine.policy import Actor
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


def _actor(name: str) -> Actor:
    user = user_by_name(db_session(), name)
    if user is None:
        raise click.ClickException(f"no user {name!r}")
    return actor_of(user)


@appraisal_cli.command("set-head")
@click.option("--department", required=True)
@click.option("--head", required=True, help="User name of the department head")
@click.option("--standard-pay", required=True, type=str, help="The head's standard monthly performance pay (yuan)")
@click.option("--by", "actor", required=True, help="The user setting it (one of the workflow's managers)")
def set_head_command(department: str, head: str, standard_pay: str, actor: str) -> None:
    """Name a department's head: paid the department coefficient × this pay, outside the pool (001 §5.1)."""
    try:
        operations.set_department_head(db_session(), clock(), department, head, Decimal(standard_pay),
                                       _actor(actor))
    except (WorkflowError, InvalidOperation) as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    click.echo(f"{department}: head {head}, standard pay {standard_pay}")


@appraisal_cli.command("distribution-rule")
@click.option("--department", required=True)
@click.option("--rule", required=True, type=click.Choice(distribution.RULES),
              help="show the deviation, ask a written reason, or block the score (001 §2.3)")
@click.option("--by", "actor", required=True, help="The user setting it (one of the workflow's managers)")
def distribution_rule_command(department: str, rule: str, actor: str) -> None:
    """Set what a sheet beyond the forced grade distribution gets in a department."""
    try:
        operations.set_distribution_rule(db_session(), clock(), department, rule, _actor(actor))
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    click.echo(f"{department}: forced distribution rule {rule}")


@appraisal_cli.command("quarter")
@click.option("--department", required=True)
@click.option("--year", required=True, type=int)
@click.option("--quarter", required=True, type=click.IntRange(1, 4))
def quarter_command(department: str, year: int, quarter: int) -> None:
    """Print each month's pool and remainder, tab-separated, and the quarter's remainder to pay out."""
    try:
        view = rules.department_quarter(db_session(), department, year, quarter, SYSTEM)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    rows: list[list[object]] = [[m.period, m.coefficient, m.pool, m.remainder] for m in view.months]
    rows.append([f"{year}-Q{quarter}", "", "", view.remainder])
    click.echo(safe_csv.to_text(rows, dialect="excel-tab", lineterminator="\n"), nl=False)


@appraisal_cli.command("year")
@click.option("--department", required=True)
@click.option("--year", required=True, type=int)
def year_command(department: str, year: int) -> None:
    """Print each employee's year, tab-separated: yearly score, months scored, consequences."""
    try:
        view = rules.department_year(db_session(), department, year, SYSTEM)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    rows: list[list[object]] = [
        [p.employee, p.yearly_score, len(p.totals), "; ".join(c["en"] for c in p.consequences)] for p in view.people]
    click.echo(safe_csv.to_text(rows, dialect="excel-tab", lineterminator="\n"), nl=False)


GROUPS = (staff_cli, appraisal_cli)
