"""Several timer workers on one PostgreSQL database: every due timer fires exactly once, even when a
worker is killed mid-run, and a sweep reads only the due rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.engine import Actor, advance, open_case

from .helpers import publish_minimal

ROOT = Path(__file__).resolve().parent.parent
CLERK = Actor("carol", frozenset({"clerk"}))
pytestmark = pytest.mark.usefixtures("postgres_only")


@pytest.fixture
def postgres_only(database):
    if database["kind"] != "postgresql":
        pytest.skip("row locks with SKIP LOCKED are PostgreSQL's; the PostgreSQL run of the suite covers this")


def submitted_cases(clock, count: int) -> None:
    """`count` minimal cases in 'submitted', each with a 'review' timer that fires 'expire' when due."""
    publish_minimal(clock)
    for _ in range(count):
        case = open_case(db.session, clock, "minimal", {"amount": "1"}, CLERK)
        advance(db.session, clock, case, "submit", CLERK)
    db.session.commit()


def worker(database, now) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database["url"]}
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "web", "workflow", "tick", "--now", now.isoformat()],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def fired_per_case() -> dict[int, int]:
    rows = db.session.execute(sa.text(
        "SELECT case_id, count(*) FROM history WHERE action = 'expire' AND actor = 'system' GROUP BY case_id"))
    return dict(rows.all())


def test_two_workers_fire_a_thousand_due_timers_exactly_once(database, clock, frozen_clock):
    submitted_cases(clock, 1000)
    due = frozen_clock.now + timedelta(days=30)
    first, second = worker(database, due), worker(database, due)
    outputs = [p.communicate(timeout=300)[0] for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    fired = fired_per_case()
    assert len(fired) == 1000 and set(fired.values()) == {1}
    # both workers did part of the work: the lock made them share it, not repeat it
    counts = [int(out.split("expired, ")[0].split(", ")[-1]) for out in outputs]
    assert sum(counts) == 1000, outputs
    states = db.session.execute(sa.text("SELECT state, count(*) FROM cases GROUP BY state")).all()
    assert states == [("rejected", 1000)]


def test_a_worker_killed_mid_run_loses_nothing_and_repeats_nothing(database, clock, frozen_clock, runner):
    submitted_cases(clock, 1000)
    due = frozen_clock.now + timedelta(days=30)
    victim = worker(database, due)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = db.session.execute(sa.text("SELECT count(*) FROM history WHERE action = 'expire'")).scalar()
        db.session.rollback()
        if done >= 50:
            break
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    victim.stdout.close()
    partial = len(fired_per_case())
    db.session.rollback()
    assert 50 <= partial < 1000, "the worker must be killed in the middle of its run"
    restarted = worker(database, due)
    out = restarted.communicate(timeout=300)[0]
    assert restarted.returncode == 0, out
    fired = fired_per_case()
    assert len(fired) == 1000 and set(fired.values()) == {1}
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_sweep_reads_only_the_due_rows_among_100000_open_cases(database, clock, frozen_clock, owner_engine):
    submitted_cases(clock, 10)  # ten real cases whose timers are due
    version_id = db.session.execute(sa.text("SELECT id FROM workflow_versions")).scalar()
    now = frozen_clock.now
    with db.engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO cases (workflow_key, version_id, state, data, lock_version, created_by, created_at, updated_at)
            SELECT 'minimal', :v, 'submitted', '{"amount": "1"}', 2, 'bulk', :now, :now
            FROM generate_series(1, 100000)"""), {"v": version_id, "now": now})
        conn.execute(sa.text("""
            INSERT INTO timers (case_id, name, status, started_at, due_at, next_action_at, repeats)
            SELECT id, 'review', 'running', :now, :later, :later, 0 FROM cases WHERE created_by = 'bulk'"""),
            {"now": now, "later": now + timedelta(days=365)})
    with owner_engine.begin() as conn:  # the owner's (autovacuum's) job: the service's role may not ANALYZE
        conn.execute(sa.text("ANALYZE cases; ANALYZE timers"))
    from workflow.engine.worker import due_cases

    query = due_cases(now + timedelta(days=30)).compile(db.engine, compile_kwargs={"literal_binds": True})
    with db.engine.connect() as conn:
        plan = conn.execute(sa.text(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}")).scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    nodes = list(_walk(plan[0]["Plan"]))
    print(json.dumps(plan, indent=1)[:4000])  # shown with -s: the plan of the sweep
    timer_scans = [n for n in nodes
                   if n.get("Relation Name") == "timers" or n.get("Index Name", "").startswith("ix_timers")]
    index_scans = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
    assert timer_scans and all(n["Node Type"] in index_scans for n in timer_scans)
    assert any(n.get("Index Name") == "ix_timers_next_action_at" for n in timer_scans)
    assert max(n["Actual Rows"] for n in timer_scans) <= 10
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], [n["Node Type"] for n in nodes]


def _walk(node):
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)
