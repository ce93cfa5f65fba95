"""Command-line operations: `flask --app web workflow|audit|users ...`. Each commits once."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import diagram
from workflow.appraisal.templates import publish_shipped
from workflow.definitions import load_text, shipped_files, validate_path
from workflow.engine import WorkflowError, audit, publish_definition
from workflow.engine.history import Break
from workflow.engine.notifications import SmtpSettings, send_pending_emails
from workflow.engine.sla import monthly_figures
from workflow.engine.users import (
    create_user,
    disable_user,
    enable_user,
    issue_token,
    revoke_token,
    set_password,
    tokens_of,
    user_by_name,
)
from workflow.engine.worker import MAX_BATCH_SIZE, TickReport, fire_due_timers
from workflow.models import Closure, User

from . import slices
from .extensions import clock, db, db_session

workflow_cli = AppGroup("workflow", help="Validate, publish and draw workflow definitions; run their timers.")
calendar_cli = AppGroup("calendar", help="The working calendar: company closures on top of public holidays.")
audit_cli = AppGroup("audit", help="Check the integrity of case histories.")
users_cli = AppGroup("users", help="Manage users, roles and API tokens.")
DIAGRAMS = Path(__file__).resolve().parent.parent / "diagrams"


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
@click.option("--reason", default=None, help="Why (recorded on each new version); default: the file it came from.")
def load_command(paths: tuple[str, ...], actor: str, reason: str | None) -> None:
    """Publish each changed definition as a new version. Nothing is published if any file is invalid."""
    files = _paths(paths)
    problems = [p for f in files for p in validate_path(f)]
    if problems:
        for problem in problems:
            click.echo(str(problem))
        click.echo("nothing published", err=True)
        sys.exit(1)
    now = clock().now()
    for f in files:
        version, created = publish_definition(
            db_session(), f.read_text(encoding="utf-8"), str(f), actor, now, expected_key=f.stem,
            reason=(reason or f"loaded from {f.name}")[:1000],
        )
        state = "published" if created else "unchanged"
        click.echo(f"{version.key}: version {version.version} {state}")
    if not paths:  # the shipped set: its score-sheet templates too, a new version only where one changed
        for sheet, created in publish_shipped(db_session(), actor, now, (reason or "the shipped template")[:1000]):
            click.echo(f"score sheet {sheet.key}: version {sheet.version} {'published' if created else 'unchanged'}")
    db_session().commit()


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
    """Publish the shipped workflows and add demo users (password: <name>-demo-pass) and a few demo cases."""
    from workflow.demo import seed

    for line in seed(db_session(), clock()):
        click.echo(line)
    db_session().commit()


@contextmanager
def _audit_snapshot() -> Iterator[Session]:
    """A read-only session that sees one moment of the database, however long the audit takes."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    with Session(engine) as session, session.begin():
        yield session


def _audit_key() -> bytes:
    """The checkpoint key, from AUDIT_KEY or the file AUDIT_KEY_FILE names: never from the database."""
    key, path = current_app.config.get("AUDIT_KEY", ""), current_app.config.get("AUDIT_KEY_FILE", "")
    if key and path:
        raise click.ClickException("set AUDIT_KEY or AUDIT_KEY_FILE, not both")
    if path:
        try:
            raw = Path(path).read_bytes().strip()
        except OSError as exc:
            raise click.ClickException(f"AUDIT_KEY_FILE {path}: {exc.strerror}") from None
    elif key:
        raw = str(key).encode("utf-8")
    else:
        raise click.ClickException("no audit key: set AUDIT_KEY, or AUDIT_KEY_FILE to a file holding it "
                                   "(kept outside the database, e.g. `openssl rand -hex 32`)")
    try:
        audit.check_key(raw)
    except audit.CheckpointInvalid as exc:
        raise click.ClickException(str(exc)) from None
    return raw


def _report_breaks(breaks: list[Break], what: str) -> None:
    for b in breaks:
        click.echo(f"BROKEN: {b}")
    first = breaks[0]
    click.echo(f"{what} FAILED: first break at case {first.case_id}, seq {first.seq}", err=True)
    sys.exit(1)


@audit_cli.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Also prove that nothing before this checkpoint (flask audit checkpoint) changed.")
def verify_command(checkpoint_file: str | None) -> None:
    """Re-compute every case's hash chain and check each case's state, lock_version and data against it."""
    checkpoint = None
    if checkpoint_file:
        try:
            checkpoint = audit.read_checkpoint(Path(checkpoint_file).read_text("utf-8"), _audit_key())
        except (audit.CheckpointInvalid, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{checkpoint_file}: {exc}") from None
    with _audit_snapshot() as session:
        checked, breaks = audit.verify_all(session, clock())
        if checkpoint:
            breaks = sorted(breaks + audit.verify_checkpoint(session, checkpoint), key=lambda b: (b.case_id, b.seq))
    if breaks:
        _report_breaks(breaks, "history verification")
    click.echo(f"OK: {checked} case histories verified")
    if checkpoint:
        click.echo(f"OK: the {len(checkpoint.heads)} case chain heads of the checkpoint of {checkpoint.at} hold")


@audit_cli.command("checkpoint")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The file to write; keep it where the database's users cannot change it.")
def checkpoint_command(out: str) -> None:
    """Write every case's chain head and the time, signed with HMAC-SHA256 under AUDIT_KEY(_FILE)."""
    key = _audit_key()
    with _audit_snapshot() as session:
        checked, breaks = audit.verify_all(session, clock())
        if breaks:  # a checkpoint vouches for the history as it is: never for a broken one
            _report_breaks(breaks, "history verification (no checkpoint written)")
        text = audit.checkpoint_text(session, clock().now(), key)
    partial = Path(f"{out}.partial")
    partial.write_text(text, "utf-8")
    partial.replace(out)  # never a half-written checkpoint under the real name
    click.echo(f"checkpoint of {checked} case chain heads written to {out}")


@users_cli.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, help="A role; repeat for several.")
@click.option("--password", default=None, help="Sign-in password (stored hashed).")
@click.option("--display-name", default=None)
def create_user_command(name: str, roles: tuple[str, ...], password: str | None, display_name: str | None) -> None:
    """Create a user with one or more roles."""
    try:
        create_user(db_session(), name, list(roles), clock().now(), password=password, display_name=display_name,
                    min_password_length=current_app.config["PASSWORD_MIN_LENGTH"])
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    click.echo(f"created {name} with roles {', '.join(sorted(set(roles)))}")


def _user(name: str) -> User:
    user = user_by_name(db_session(), name)
    if user is None:
        raise click.ClickException(f"no user {name!r}")
    return user


@users_cli.command("token")
@click.argument("name")
@click.option("--name", "token_name", default="default", show_default=True,
              help="The token's name; a live token of that name is revoked.")
@click.option("--days", type=click.IntRange(1, 3660), default=None, help="Valid for N days [default: API_TOKEN_DAYS].")
def token_command(name: str, token_name: str, days: int | None) -> None:
    """Issue a new API token for NAME and print it alone (a live token of the same name stops working)."""
    user = _user(name)
    try:
        token = issue_token(db_session(), user, clock().now(), name=token_name,
                            days=days or int(current_app.config["API_TOKEN_DAYS"]))
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    click.echo(token)


@users_cli.command("tokens")
@click.argument("name")
def tokens_command(name: str) -> None:
    """List NAME's API tokens: name, created, expires, last used, state. Never the secret."""
    now = clock().now()
    rows = tokens_of(db_session(), _user(name))
    if not rows:
        click.echo(f"{name} has no API tokens")
    for t in rows:
        state = "revoked" if t.revoked_at else "expired" if t.expires_at <= now else "active"
        used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
        click.echo(f"{t.name}\tcreated {t.created_at.isoformat(timespec='minutes')}"
                   f"\texpires {t.expires_at.isoformat(timespec='minutes')}\tlast used {used}\t{state}")


@users_cli.command("revoke-token")
@click.argument("name")
@click.argument("token_name")
def revoke_token_command(name: str, token_name: str) -> None:
    """Revoke NAME's live token TOKEN_NAME: it stops working with the next request."""
    try:
        revoke_token(db_session(), _user(name), token_name, clock().now())
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    click.echo(f"revoked {name}'s token {token_name!r}")


@users_cli.command("set-password")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The new password (asked for when not given).")
@click.option("--revoke-tokens", is_flag=True, help="Also revoke every API token of NAME.")
def set_password_command(name: str, password: str, revoke_tokens: bool) -> None:
    """Give NAME a new password; every session they have signed in with ends."""
    try:
        set_password(db_session(), _user(name), password, clock().now(),
                     min_length=current_app.config["PASSWORD_MIN_LENGTH"], revoke_tokens=revoke_tokens)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    db_session().commit()
    revoked = "; tokens revoked" if revoke_tokens else ""
    click.echo(f"new password set for {name}; their sessions have ended{revoked}")


@users_cli.command("disable")
@click.argument("name")
def disable_command(name: str) -> None:
    """Stop NAME signing in or using the API: ends their sessions and revokes their tokens."""
    disable_user(db_session(), _user(name), clock().now())
    db_session().commit()
    click.echo(f"disabled {name}: sessions ended, API tokens revoked")


@users_cli.command("enable")
@click.argument("name")
def enable_command(name: str) -> None:
    """Let NAME sign in again (their old API tokens stay revoked: issue new ones)."""
    enable_user(db_session(), _user(name))
    db_session().commit()
    click.echo(f"enabled {name}")


def smtp_settings() -> SmtpSettings | None:
    config = current_app.config
    if not config["SMTP_HOST"]:
        return None
    return SmtpSettings(
        host=config["SMTP_HOST"], port=int(config["SMTP_PORT"]), sender=config["SMTP_SENDER"],
        username=config["SMTP_USERNAME"] or None, password=config["SMTP_PASSWORD"] or None,
        starttls=bool(int(config["SMTP_STARTTLS"])),
    )


def _batch_size() -> int:
    size = int(current_app.config["WORKER_BATCH_SIZE"])
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise click.UsageError(f"WORKER_BATCH_SIZE must be between 1 and {MAX_BATCH_SIZE}, not {size}")
    return size


def _tick(now: datetime | None) -> TickReport:
    smtp = smtp_settings()
    report = fire_due_timers(lambda: Session(db.engine), clock(), now=now, email=smtp is not None,
                             batch_size=_batch_size())
    if smtp is not None:
        with Session(db.engine) as session, session.begin():
            send_pending_emails(session, smtp, clock().now())
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
            now = now.replace(tzinfo=clock().tz)
    click.echo(str(_tick(now)))


@workflow_cli.command("worker")
@click.option("--interval", type=float, default=None, help="Seconds between sweeps.")
def worker_command(interval: float | None) -> None:
    """Sweep for due timers until stopped (SIGTERM or Ctrl-C); several may run at once."""
    pause = interval if interval is not None else current_app.config["WORKER_INTERVAL_SECONDS"]
    batch = _batch_size()  # refused at start rather than at the first sweep
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    click.echo(f"timer worker {os.getpid()} sweeping every {pause}s, {batch} case(s) per transaction")
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
    try:
        f = monthly_figures(db_session(), key, month, clock().tz)
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
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
    if db_session().get(Closure, day.date()) is not None:
        raise click.ClickException(f"{day.date()} is already closed")
    db_session().add(Closure(day=day.date(), reason=reason, created_by=actor, created_at=clock().now()))
    db_session().commit()
    click.echo(f"closed {day.date()}: {reason}")


@calendar_cli.command("reopen")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
def reopen_command(day: datetime) -> None:
    """Remove a company closure."""
    closure = db_session().get(Closure, day.date())
    if closure is None:
        raise click.ClickException(f"{day.date()} is not a company closure")
    db_session().delete(closure)
    db_session().commit()
    click.echo(f"reopened {day.date()}")


@calendar_cli.command("list")
def list_closures_command() -> None:
    """List company closures."""
    for closure in db_session().scalars(select(Closure).order_by(Closure.day)):
        click.echo(f"{closure.day}  {closure.reason}  ({closure.created_by})")


def init_app(app: Flask) -> None:
    core = {group.name: group for group in (workflow_cli, audit_cli, users_cli, calendar_cli)}
    for module in slices.modules("cli"):
        for name, commands in getattr(module, "COMMANDS", {}).items():
            for command in commands:
                core[name].add_command(command)
        for group in getattr(module, "GROUPS", ()):
            app.cli.add_command(group)
    for group in core.values():
        app.cli.add_command(group)
