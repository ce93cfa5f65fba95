"""The workbench's commands, added to `flask --app web workflow`: migrate running cases, export BPMN.

The shell is the server's operator, as for `workflow load`: `--by` names who is recorded in the history.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from workflow import bpmn
from workflow.engine import WorkflowError, migration
from workflow.engine.impact import version_row
from workflow.engine.policy import Actor
from workflow.engine.publishing import current_workflow, workflow_of

from ..extensions import clock, db_session


def _state_map(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise click.BadParameter(f"{pair!r} is not OLD=NEW", param_hint="--map")
        mapping[old.strip()] = new.strip()
    return mapping


def _print(result: dict[str, Any]) -> None:
    click.echo(f"{result['key']}: version {result['from_version']} -> {result['to_version']}"
               f"{' (dry run)' if result['dry_run'] else ''}")
    for case in result["cases"]:
        name = case["number"] or case["case_id"]
        line = f"  {name}: {case['from_state']} -> {case['to_state']} {case['outcome']}"
        timers = ", ".join(f"{t['name']} {t['action']}" + (f" due {t['new_due_at']}" if t["new_due_at"] else "")
                           for t in case["timers"])
        problems = ", ".join(f"{p['field']}: {p['message']['en']}" for p in case["problems"])
        click.echo(line + (f" [{timers}]" if timers else "") + (f" ({problems})" if problems else ""))
    click.echo("counts: " + json.dumps(result["counts"], sort_keys=True))


@click.command("migrate")
@click.argument("key")
@click.option("--from", "from_version", type=click.IntRange(1), required=True, help="The version cases are on")
@click.option("--to", "to_version", type=click.IntRange(1), required=True, help="A later version")
@click.option("--map", "pairs", multiple=True, metavar="OLD=NEW", help="A state of --from to a state of --to")
@click.option("--dry-run", is_flag=True, help="Print the per-case plan; write nothing")
@click.option("--by", "actor", default="cli", show_default=True, help="Who migrates (recorded in the history)")
@click.option("--batch-size", type=click.IntRange(1, migration.MAX_BATCH), default=100, show_default=True)
def migrate_command(key: str, from_version: int, to_version: int, pairs: tuple[str, ...], dry_run: bool,
                    actor: str, batch_size: int) -> None:
    """Move the running cases of a workflow from one version to a later one (identity state map by default)."""
    mapping = _state_map(pairs)
    try:
        if dry_run:
            result = migration.plan_migration(db_session(), clock(), key, from_version, to_version, mapping)
        else:
            operator = Actor(actor, frozenset())
            result = migration.run_migration(db_session(), clock(), operator, key, from_version, to_version,
                                             mapping, batch_size=batch_size, after_batch=db_session().commit,
                                             check_owner=False)
            db_session().commit()
    except WorkflowError as exc:
        db_session().rollback()
        fields = "; ".join(f"{name}: {msg['en']}" for name, msg in exc.fields.items())
        raise click.ClickException(fields or str(exc)) from None
    _print(result)
    if result["counts"].get("invalid") or result["counts"].get("stale"):
        sys.exit(2)  # some cases stay on the earlier version: a script must notice


@click.command("bpmn")
@click.argument("key")
@click.option("--version", type=click.IntRange(1), default=None, help="Default: the latest")
def bpmn_command(key: str, version: int | None) -> None:
    """Print a published version of a workflow as BPMN 2.0 XML (with its diagram)."""
    try:
        row = version_row(db_session(), key, version) if version else current_workflow(db_session(), key)[0]
    except WorkflowError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(bpmn.to_bpmn(workflow_of(row).definition, row.version))


COMMANDS = {"workflow": [migrate_command, bpmn_command]}
