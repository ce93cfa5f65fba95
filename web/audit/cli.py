"""The audit area's commands, added to `flask audit`: export a search with its signed manifest, verify an
export without the database, and a full verification whose run the audit area shows."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app

from workflow.engine import SYSTEM, WorkflowError, audit, policy, trail

from ..extensions import clock, db_session
from . import common


def _key() -> bytes:
    key = common.audit_key()
    if key is None:
        raise click.ClickException("no audit key: set AUDIT_KEY, or AUDIT_KEY_FILE to a file holding it")
    try:
        audit.check_key(key)
    except audit.CheckpointInvalid as exc:
        raise click.ClickException(str(exc)) from None
    return key


@click.command("verify-export")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--manifest", "manifest_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The signed manifest of the export (needs AUDIT_KEY or AUDIT_KEY_FILE).")
def verify_export_command(file: str, manifest_file: str | None) -> None:
    """Check an export (CSV or JSON Lines): every row's hash, the chain between rows, and the manifest."""
    manifest = Path(manifest_file).read_text("utf-8") if manifest_file else None
    key = _key() if manifest is not None else None
    with open(file, encoding="utf-8", newline="") as lines:
        try:
            verified = trail.verify_export(lines, manifest, key)
        except (UnicodeDecodeError, audit.CheckpointInvalid) as exc:
            raise click.ClickException(f"{file}: {exc}") from None
    for problem in verified.problems:
        click.echo(f"BROKEN: {problem}")
    if verified.problems:
        click.echo(f"export verification FAILED: {len(verified.problems)} problem(s)", err=True)
        sys.exit(1)
    signed = " and its signed manifest" if manifest is not None else ""
    click.echo(f"OK: {verified.rows} rows of {verified.cases} cases verified{signed}")


@click.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The export file (.csv or .jsonl).")
@click.option("--manifest", "manifest_out", default=None, type=click.Path(dir_okay=False),
              help="Where to write the signed manifest (default: OUT.manifest.json).")
@click.option("--workflow", default=None)
@click.option("--actor", default=None)
@click.option("--action", default=None)
@click.option("--since", default=None, help="ISO 8601, inclusive")
@click.option("--until", default=None, help="ISO 8601, exclusive")
def export_command(out: str, manifest_out: str | None, workflow: str | None, actor: str | None,
                   action: str | None, since: str | None, until: str | None) -> None:
    """Export every history row of a search (the operator reads every case), with its signed manifest."""
    key = _key()
    try:
        search = trail.check_search(db_session(), common.search_of(
            {"workflow": workflow, "actor": actor, "action": action, "since": since, "until": until}))
    except WorkflowError as exc:
        raise click.ClickException(str(exc.fields or exc)) from None
    manifest = trail.Manifest()
    records = trail.tee(trail.export_records(db_session(), SYSTEM, search), manifest)
    lines = trail.csv_lines(records) if out.endswith(".csv") else trail.jsonl_lines(records)
    with open(out, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(lines)
    target = Path(manifest_out or f"{out}.manifest.json")
    target.write_text(trail.manifest_text(manifest, clock().now(), search.described(), key), "utf-8")
    click.echo(f"{manifest.rows} rows written to {out}; manifest {target}")


@click.command("verify-and-record")
def verify_and_record_command() -> None:
    """`audit verify`, its outcome kept for the audit area; a break notifies the auditors (chain_break)."""
    run = audit.verify_and_record(db_session(), clock(), "cli", policy.chain_break_roles())
    db_session().commit()
    if run.breaks:
        click.echo(f"history verification FAILED: {run.breaks} break(s); first at case {run.first_case_id}, "
                   f"seq {run.first_seq}: {run.first_reason}", err=True)
        sys.exit(1)
    click.echo(f"OK: {run.cases_checked} case histories verified (run recorded)")
    current_app.logger.info("audit run %s recorded", run.id)


COMMANDS = {"audit": [verify_export_command, export_command, verify_and_record_command]}
