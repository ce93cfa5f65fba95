"""Command-line operations: `flask --app web workflow|audit|users ...`. Each commits once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import diagram
from workflow.definitions import load_text, shipped_files, validate_path
from workflow.engine import Clock, WorkflowError, actor_of, appraisal, publish_definition, verify_all
from workflow.engine.notifications import SmtpSettings, send_pending_emails
from workflow.engine.sla import monthly_figures
from workflow.engine.users import create_user, issue_token, user_by_name
from workflow.engine.worker import TickReport, fire_due_timers
from workflow.models import Closure

from .extensions import db

workflow_cli = AppGroup("workflow", help="Validate, publish and draw workflow definitions; run their timers.")
calendar_cli = AppGroup("calendar", help="The working calendar: company closures on top of public holidays.")
staff_cli = AppGroup("staff", help="The staff register: department, score-sheet template, pay, supervisor.")
appraisal_cli = AppGroup("appraisal", help="Monthly appraisal: open a month, coefficients, export.")
audit_cli = AppGroup("audit", help="Check the integrity of case histories.")
users_cli = AppGroup("users", help="Manage users, roles and API tokens.")
DIAGRAMS = Path(__file__).resolve().parent.parent / "diagrams"


def _clock() -> Clock:
    return current_app.extensions["workflow_clock"]


def _paths(paths: tuple[str, ...]) -> list[Path]:
    if not paths:
        return shipped_files()
    found: list[Path] = []
    for p in map(Path, paths):
        found += sorted(p.glob("*.yaml")) if p.is_dir() else [p]
    return found


@workflow_cli.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def validate_command(paths: tuple[str, ...]) -> None:
    """Check definitions (default: the shipped ones); print FILE:LINE: CODE: reason for each problem."""
    files = _paths(paths)
    problems = [p for f in files for p in validate_path(f)]
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s) in {len({p.file for p in problems})} file(s)", err=True)
        sys.exit(1)
    click.echo(f"{len(files)} definition(s) valid")


@workflow_cli.command("load")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--by", "actor", default="cli", show_default=True, help="Who publishes (recorded).")
def load_command(paths: tuple[str, ...], actor: str) -> None:
    """Publish each changed definition as a new version. Nothing is published if any file is invalid."""
    files = _paths(paths)
    problems = [p for f in files for p in validate_path(f)]
    if problems:
        for problem in problems:
            click.echo(str(problem))
        click.echo("nothing published", err=True)
        sys.exit(1)
    now = _clock().now()
    for f in files:
        version, created = publish_definition(
            db.session, f.read_text(encoding="utf-8"), str(f), actor, now, expected_key=f.stem
        )
        state = "published" if created else "unchanged"
        click.echo(f"{version.key}: version {version.version} {state}")
    db.session.commit()


@workflow_cli.command("diagrams")
@click.option("--out", type=click.Path(file_okay=False), default=str(DIAGRAMS), show_default=True)
def diagrams_command(out: str) -> None:
    """Render the shipped definitions to DOT and SVG files."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    for f in shipped_files():
        graph = diagram.build(load_text(f.read_text(encoding="utf-8"), str(f), f.stem))
        (target / f"{f.stem}.dot").write_text(graph.to_string(), encoding="utf-8")
        (target / f"{f.stem}.svg").write_bytes(diagram.to_svg(graph))
        click.echo(f"{target / f.stem}.svg")


@workflow_cli.command("demo")
def demo_command() -> None:
    """Publish the shipped workflows and add demo users (password = name) and a few demo cases."""
    from .demo import seed

    for line in seed(db.session, _clock()):
        click.echo(line)
    db.session.commit()


@audit_cli.command("verify")
def verify_command() -> None:
    """Re-compute every case's hash chain; name the first broken case and seq."""
    checked, breaks = verify_all(db.session)
    if breaks:
        for b in breaks:
            click.echo(f"BROKEN: {b}")
        first = breaks[0]
        click.echo(f"history verification FAILED: first break at case {first.case_id}, seq {first.seq}", err=True)
        sys.exit(1)
    click.echo(f"OK: {checked} case histories verified")


@users_cli.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role; repeat for several.")
@click.option("--password", default=None, help="Sign-in password (stored hashed).")
@click.option("--display-name", default=None)
def create_user_command(name: str, roles: tuple[str, ...], password: str | None, display_name: str | None) -> None:
    """Create a user with one or more roles."""
    try:
        create_user(db.session, name, list(roles), _clock().now(), password=password, display_name=display_name)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"created {name} with roles {', '.join(sorted(set(roles)))}")


@users_cli.command("token")
@click.argument("name")
def token_command(name: str) -> None:
    """Issue a new API token for NAME and print it alone (the previous token stops working)."""
    user = user_by_name(db.session, name)
    if user is None:
        raise click.ClickException(f"no user {name!r}")
    token = issue_token(db.session, user)
    db.session.commit()
    click.echo(token)


def smtp_settings() -> SmtpSettings | None:
    config = current_app.config
    if not config["SMTP_HOST"]:
        return None
    return SmtpSettings(
        host=config["SMTP_HOST"], port=int(config["SMTP_PORT"]), sender=config["SMTP_SENDER"],
        username=config["SMTP_USERNAME"] or None, password=config["SMTP_PASSWORD"] or None,
        starttls=bool(int(config["SMTP_STARTTLS"])),
    )


def _tick(now: datetime | None) -> TickReport:
    smtp = smtp_settings()
    report = fire_due_timers(lambda: Session(db.engine), _clock(), now=now, email=smtp is not None)
    if smtp is not None:
        with Session(db.engine) as session, session.begin():
            send_pending_emails(session, smtp, _clock().now())
    return report


@workflow_cli.command("tick")
@click.option("--now", "now_text", default=None, help="ISO 8601 moment to fire what is due then (default: now).")
def tick_command(now_text: str | None) -> None:
    """Fire every timer due at that moment, once, and exit."""
    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter(f"{now_text!r} is not an ISO 8601 moment", param_hint="--now") from None
        if now.tzinfo is None:
            now = now.replace(tzinfo=_clock().tz)
    click.echo(str(_tick(now)))


@workflow_cli.command("worker")
@click.option("--interval", type=float, default=None, help="Seconds between sweeps.")
def worker_command(interval: float | None) -> None:
    """Sweep for due timers until stopped (SIGTERM or Ctrl-C); several may run at once."""
    pause = interval if interval is not None else current_app.config["WORKER_INTERVAL_SECONDS"]
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    click.echo(f"timer worker {os.getpid()} sweeping every {pause}s")
    try:
        while not stopping.is_set():
            report = _tick(None)
            if report.cases:
                click.echo(str(report))
            stopping.wait(pause)
    except KeyboardInterrupt:
        pass


@workflow_cli.command("sla")
@click.option("--workflow", "key", required=True)
@click.option("--month", required=True, help="YYYY-MM")
def sla_command(key: str, month: str) -> None:
    """On-time and late figures of one workflow for one month."""
    f = monthly_figures(db.session, key, month, _clock().tz)
    click.echo(f"{key} {month}: cases on time {f.cases_on_time}, late {f.cases_late}; "
               f"timers on time {f.timers_on_time}, late {f.timers_late}")
    for state, count in f.late_by_state.items():
        click.echo(f"  late while at {state}: {count}")


@calendar_cli.command("close")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--reason", required=True)
@click.option("--by", "actor", default="cli", show_default=True)
def close_command(day: datetime, reason: str, actor: str) -> None:
    """Add a company closure: DAY is then not a working day."""
    if db.session.get(Closure, day.date()) is not None:
        raise click.ClickException(f"{day.date()} is already closed")
    db.session.add(Closure(day=day.date(), reason=reason, created_by=actor, created_at=_clock().now()))
    db.session.commit()
    click.echo(f"closed {day.date()}: {reason}")


@calendar_cli.command("reopen")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
def reopen_command(day: datetime) -> None:
    """Remove a company closure."""
    closure = db.session.get(Closure, day.date())
    if closure is None:
        raise click.ClickException(f"{day.date()} is not a company closure")
    db.session.delete(closure)
    db.session.commit()
    click.echo(f"reopened {day.date()}")


@calendar_cli.command("list")
def list_closures_command() -> None:
    """List company closures."""
    for closure in db.session.scalars(select(Closure).order_by(Closure.day)):
        click.echo(f"{closure.day}  {closure.reason}  ({closure.created_by})")


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
        appraisal.set_staff(db.session, name, department, template, Decimal(standard_pay), supervisor,
                            active=not inactive)
    except (WorkflowError, InvalidOperation) as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"{name}: {department}, {template}, standard pay {standard_pay}, supervisor {supervisor}")


@appraisal_cli.command("open-month")
@click.option("--department", required=True)
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--by", "actor", required=True, help="The HR user or supervisor opening the month")
def open_month_command(department: str, period: str, actor: str) -> None:
    """Open the month's sheet for every employee of a department."""
    user = user_by_name(db.session, actor)
    if user is None:
        raise click.ClickException(f"no user {actor!r}")
    try:
        result = appraisal.open_month(db.session, _clock(), department, period, actor_of(user))
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    for case in result.opened:
        click.echo(f"opened case {case.id} for {case.data['employee']}")
    for employee, why in result.skipped:
        click.echo(f"skipped {employee}: {why}")


@appraisal_cli.command("export")
@click.option("--department", required=True)
@click.option("--period", required=True, help="YYYY-MM")
def export_command(department: str, period: str) -> None:
    """Print the month's results: employee, total, grade, performance pay."""
    view = appraisal.department_month(db.session, department, period)
    click.echo(f"{department} {period} (department coefficient {view.coefficient})")
    for r in view.rows:
        click.echo(f"{r.employee}\t{r.total or '-'}\t{r.grade or '-'}\t{r.performance_pay or '-'}\t{r.state}")


def init_app(app: Flask) -> None:
    for group in (workflow_cli, audit_cli, users_cli, calendar_cli, staff_cli, appraisal_cli):
        app.cli.add_command(group)
