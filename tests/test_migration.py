"""Migration of running cases from one version to a later one (issue 13, item 5).

Version 2 of the return workflow here inspects within 36 h (was 48 h), drops the record-to-customer timer,
adds a 4 h acknowledgement timer on `received`, and allows customer names of at most 12 characters, so that
one running case (a long name) fails it and stays on version 1.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.engine import audit, migration
from workflow.engine.cases import advance, get_case
from workflow.engine.errors import StaleCase
from workflow.engine.history import verify_case
from workflow.engine.policy import Actor
from workflow.engine.publishing import publish_definition
from workflow.models import Case, HistoryEntry

from .conftest import snapshot
from .test_drafts import OWNER, SHIPPED, WORKFLOW, owners, received, rows

RECORD_TIMER = SHIPPED[SHIPPED.index("  # 002 §4.10: the record goes"):SHIPPED.index("  # 002 §4.10: no reply")]
ACKNOWLEDGE = """  - name: acknowledge
    label: {en: Acknowledge within 4 hours, zh: 4小时内确认收货}
    start: {enter: received}
    stop: {leave: received}
    duration: 4h
    on_expiry:
      notify: [service_lead]

"""
V2 = (SHIPPED.replace("    duration: 48h\n", "    duration: 36h\n", 1)
      .replace(RECORD_TIMER, ACKNOWLEDGE)
      .replace("    required: true\n    max: 200\n    label: {en: Customer", "    required: true\n    max: 12\n"
                                                                         "    label: {en: Customer", 1))
MIGRATIONS = f"/api/v1/workflows/{WORKFLOW}/migrations"


def publish_v2(clock, text: str = V2) -> int:
    version, created = publish_definition(db.session, text, f"{WORKFLOW}.yaml", OWNER, clock.now(), WORKFLOW,
                                          reason="36 h inspection")
    assert created
    db.session.commit()
    return version.version


def everything() -> dict[str, list[tuple[Any, ...]]]:
    return {t: rows(t) for t in ("cases", "history", "timers")}


def migrate(api, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    response = api.post(OWNER, MIGRATIONS, {"from_version": 1, "to_version": 2, **body})
    assert response.status_code == status, response.get_json()
    return response.get_json()


@pytest.fixture
def two_cases(api, clock, frozen_clock) -> tuple[dict[str, Any], dict[str, Any]]:
    """A short-named return received now and a long-named one received 10 h later; then version 2."""
    owners(api)
    short = received(api, "Hengda")
    frozen_clock.advance(hours=10)
    long = received(api, "Hengda Furniture Co.")
    frozen_clock.advance(hours=2)
    publish_v2(clock)
    return short, long


# -- refusals ----------------------------------------------------------------------------------------------


def test_an_incomplete_state_map_a_missing_target_and_an_older_version_are_refused_and_nothing_changes(
    api, clock, two_cases
):
    renamed = V2.replace("  received: {label", "  arrived: {label", 1).replace(
        "    to: received\n", "    to: arrived\n").replace("    from: received\n", "    from: arrived\n").replace(
        "leave: received}", "leave: arrived}").replace("enter: received}", "enter: arrived}")
    assert publish_v2(clock, renamed) == 3
    before = everything()
    incomplete = migrate(api, {"to_version": 3, "dry_run": False}, status=422)["error"]
    assert "received" in incomplete["fields"]["state_map"]
    missing = migrate(api, {"to_version": 3, "state_map": {"received": "nowhere"}, "dry_run": False}, status=422)
    assert "nowhere" in missing["error"]["fields"]["state_map"]
    older = api.post(OWNER, MIGRATIONS, {"from_version": 2, "to_version": 1, "dry_run": False})
    assert older.status_code == 422 and "to_version" in older.get_json()["error"]["fields"]
    assert api.post("service_lead", MIGRATIONS, {"from_version": 1, "to_version": 2,
                                                 "dry_run": False}).status_code == 403
    assert everything() == before
    mapped = migrate(api, {"to_version": 3, "state_map": {"received": "arrived"}})
    assert {c["to_state"] for c in mapped["cases"]} == {"arrived"}


def test_a_case_migrated_into_a_renamed_state_still_verifies_and_moves_on_under_the_new_version(
    api, clock, two_cases
):
    # `audit verify` once compared the state with the last *move* and replayed every move under the case's
    # current version: a mapped state read as tampering. The migration row now names the state, and each
    # move is replayed under the version it was made under.
    renamed = V2.replace("  received: {label", "  arrived: {label", 1).replace(
        "    to: received\n", "    to: arrived\n").replace("    from: received\n", "    from: arrived\n").replace(
        "leave: received}", "leave: arrived}").replace("enter: received}", "enter: arrived}")
    assert publish_v2(clock, renamed) == 3
    done = migrate(api, {"to_version": 3, "state_map": {"received": "arrived"}, "dry_run": False})
    assert done["counts"]["migrated"] == 1
    moved = db.session.scalars(sa.select(Case).where(Case.state == "arrived")).one()
    assert moved.version.version == 3
    assert audit.verify_all(db.session, clock) == (2, [])


# -- the plan and the run ----------------------------------------------------------------------------------


def test_the_dry_run_plans_each_case_and_writes_nothing(api, two_cases):
    short, long = two_cases
    before = everything()
    plan = migrate(api, {"dry_run": True})
    assert everything() == before
    by_case = {c["case_id"]: c for c in plan["cases"]}
    assert by_case[short["id"]]["outcome"] == "migrate"
    assert by_case[long["id"]]["outcome"] == "invalid"
    assert [p["field"] for p in by_case[long["id"]]["problems"]] == ["customer"]
    actions = {t["name"]: t["action"] for t in by_case[short["id"]]["timers"]}
    assert actions == {"inspection": "retime", "record_to_customer": "stop", "final_handling": "keep",
                       "acknowledge": "start"}
    assert plan["counts"] == {"migrate": 1, "invalid": 1}


def test_the_run_moves_valid_cases_carries_their_timers_and_leaves_the_others_on_the_old_version(
    api, clock, two_cases
):
    short, long = two_cases
    long_before = snapshot(long["id"])
    result = migrate(api, {"dry_run": False})
    assert result["counts"] == {"migrated": 1, "invalid": 1}
    assert snapshot(long["id"]) == long_before  # listed, left on version 1, untouched

    case = db.session.get(Case, short["id"])
    assert case.version.version == 2 and case.state == "received"
    by_name = {t.name: t for t in case.timers}
    inspection = by_name["inspection"]
    assert inspection.status == "running"
    assert inspection.due_at == inspection.started_at + timedelta(hours=36)  # its start kept, re-timed
    assert by_name["record_to_customer"].status == "stopped"
    entered = db.session.scalars(sa.select(HistoryEntry).where(
        HistoryEntry.case_id == case.id, HistoryEntry.to_state == "received", HistoryEntry.kind == "transition"
    )).one().at
    acknowledge = by_name["acknowledge"]
    assert (acknowledge.status, acknowledge.started_at) == ("running", entered)
    assert acknowledge.due_at == entered + timedelta(hours=4)  # 12 h ago: overdue at the next sweep

    entries = list(db.session.scalars(sa.select(HistoryEntry).where(HistoryEntry.case_id == case.id)
                                      .order_by(HistoryEntry.seq)))
    last = entries[-1]
    assert (last.kind, last.actor, last.from_state, last.to_state) == ("migration", OWNER, "received", "received")
    assert last.inputs == {"from_version": 1, "to_version": 2, "state_map": {}}
    assert verify_case(entries) is None
    assert audit.verify_all(db.session, clock) == (2, [])  # chains, heads, states and data all hold


def test_a_second_run_resumes_and_never_migrates_a_case_twice(api, two_cases):
    short, _ = two_cases
    migrate(api, {"dry_run": False, "batch_size": 1})
    again = migrate(api, {"dry_run": False})
    assert [c["outcome"] for c in again["cases"]] == ["invalid"]
    migrations = db.session.scalar(sa.select(sa.func.count()).select_from(HistoryEntry).where(
        HistoryEntry.case_id == short["id"], HistoryEntry.kind == "migration"))
    assert migrations == 1


def test_the_cli_plans_and_runs_a_migration(runner, two_cases):
    short, long = two_cases
    planned = runner.invoke(args=["workflow", "migrate", WORKFLOW, "--from", "1", "--to", "2", "--dry-run"])
    assert "inspection retime" in planned.output and "invalid" in planned.output
    assert db.session.get(Case, short["id"]).version.version == 1
    bad = runner.invoke(args=["workflow", "migrate", WORKFLOW, "--from", "1", "--to", "2", "--map", "received=x"])
    assert bad.exit_code == 1 and "x" in bad.output
    ran = runner.invoke(args=["workflow", "migrate", WORKFLOW, "--from", "1", "--to", "2", "--by", "ops"])
    assert ran.exit_code == 2  # one case stays behind, and a script must see it
    db.session.expire_all()
    assert db.session.get(Case, short["id"]).version.version == 2
    assert db.session.get(Case, long["id"]).version.version == 1


# -- concurrency -------------------------------------------------------------------------------------------


def test_a_step_taken_while_a_migration_read_the_case_wins_and_the_migration_leaves_it_for_the_next_run(
    app, api, clock, two_cases
):
    short, _ = two_cases
    inspector = Actor("fg_qa", frozenset({"fg_qa"}))
    api.user("fg_qa")
    with Session(db.engine) as migrating:
        stale = migrating.get(Case, short["id"])
        assert stale is not None and stale.state == "received"
        with Session(db.engine) as stepping:  # the step commits after the migration read the case
            advance(stepping, clock, get_case(stepping, short["id"]), "record_inspection", inspector,
                    {"inspection_result": "all in order"})
            stepping.commit()
        v = migration.resolve(migrating, None, WORKFLOW, 1, 2, {})
        with pytest.raises(StaleCase):
            migration._migrate_case(migrating, clock, Actor(OWNER, frozenset({"process_owner"})), v, stale)
        migrating.rollback()
    db.session.expire_all()
    case = db.session.get(Case, short["id"])
    assert (case.state, case.version.version) == ("inspected", 1)
    result = migrate(api, {"dry_run": False})  # the next run takes it, once
    assert {c["case_id"]: c["outcome"] for c in result["cases"]}[short["id"]] == "migrated"


def test_a_concurrent_step_and_migration_on_postgresql_one_wins_never_both(app, api, clock, two_cases, database):
    if database["kind"] != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    short, _ = two_cases
    api.user("fg_qa")
    owner = Actor(OWNER, frozenset({"process_owner"}))
    inspector = Actor("fg_qa", frozenset({"fg_qa"}))
    outcomes: dict[str, str] = {}
    migrated = threading.Event()

    with Session(db.engine) as migrating:
        result = migration.run_migration(migrating, clock, owner, WORKFLOW, 1, 2, {})  # holds the row, uncommitted
        assert {c["case_id"]: c["outcome"] for c in result["cases"]}[short["id"]] == "migrated"

        def step() -> None:
            with app.app_context(), Session(db.engine) as stepping:
                case = get_case(stepping, short["id"])
                migrated.set()
                try:  # blocks on the row until the migration commits, then finds it moved
                    advance(stepping, clock, case, "record_inspection", inspector, {"inspection_result": "ok"})
                    stepping.commit()
                    outcomes["step"] = "won"
                except StaleCase:
                    outcomes["step"] = "stale"

        worker = threading.Thread(target=step)
        worker.start()
        migrated.wait(5)
        worker.join(0.5)  # give it time to reach the lock
        migrating.commit()
        worker.join(10)
    assert outcomes == {"step": "stale"}
    db.session.expire_all()
    case = db.session.get(Case, short["id"])
    assert (case.state, case.version.version) == ("received", 2)
    entries = list(db.session.scalars(sa.select(HistoryEntry).where(HistoryEntry.case_id == case.id)
                                      .order_by(HistoryEntry.seq)))
    assert [e.kind for e in entries].count("migration") == 1 and verify_case(entries) is None


def test_a_state_map_that_is_not_names_or_too_long_is_a_400_and_changes_nothing(api, two_cases):
    before = everything()
    huge = {f"s{n}": "received" for n in range(migration.MAX_MAP + 1)}
    assert api.post(OWNER, MIGRATIONS, {"from_version": 1, "to_version": 2, "state_map": huge,
                                        "dry_run": False}).status_code == 400
    assert api.post(OWNER, MIGRATIONS, {"from_version": 1, "to_version": 2, "state_map": {"received": 3},
                                        "dry_run": False}).status_code == 400
    assert api.post(OWNER, MIGRATIONS, {"from_version": 1, "to_version": 2, "state_map": {"nowhere": "received"},
                                        "dry_run": False}).status_code == 422
    assert everything() == before
