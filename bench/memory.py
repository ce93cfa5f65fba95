"""Benchmark 5: the resident memory of a worker process before and after 100k transitions.

The worker is a child process that serves the real WSGI app (bench.app, i.e. web.create_app) the way
a gunicorn worker does, minus the socket: every transition is a POST to
/api/v1/cases/<id>/actions/<action> through Flask's test client, with token auth, the engine, the
commit and the JSON answer. It walks the five routes of bench/routes.py in turn, opening each case
through the API too. The database is a file SQLite database with synchronous=NORMAL (no fsync per
commit: durability is not what this measures, and it keeps 100k transitions within minutes).

"Before" is read after a warm-up (every route walked, caches filled), "after" at the end, both after
a `gc.collect()`, so the figure is what stays, not what the collector has yet to free.

Run alone: python -m bench.memory --transitions 5000 --db /tmp/memory.db
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Row

TARGET_GROWTH = 0.10


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def work(transitions: int, warmup: int, db_path: Path) -> dict[str, Any]:
    """Serve `warmup` + `transitions` transitions in this process; return RSS samples."""
    from sqlalchemy import event

    from web.extensions import db

    from .app import create_app
    from .common import create_users, publish_shipped, sqlite_database
    from .routes import ROLES, ROUTES

    url = sqlite_database(db_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        event.listen(db.engine, "connect", lambda conn, _: conn.execute("PRAGMA synchronous=NORMAL"))
        db.engine.dispose()
        clock = app.extensions["workflow_clock"]
        session = db.session()
        publish_shipped(session, clock)
        tokens = create_users(session, clock, ROLES)
        session.commit()
        db.session.remove()
    headers = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
    client = app.test_client()
    routes = list(ROUTES.values())
    samples: list[tuple[int, int]] = []
    done = opened = 0
    total = warmup + transitions
    every = max(transitions // 10, 1)
    started = time.perf_counter()
    while done < total:
        route = routes[opened % len(routes)]
        answer = client.post("/api/v1/cases", json={"workflow": route.workflow, "data": route.opening(opened)},
                             headers=headers[route.opener])
        if answer.status_code != 201:
            raise RuntimeError(f"opening {route.workflow}: {answer.status_code} {answer.get_json()}")
        case = answer.get_json()
        opened += 1
        for step in route.steps:
            answer = client.post(f"/api/v1/cases/{case['id']}/actions/{step.action}",
                                 json={"inputs": step.inputs, "expected_version": case["lock_version"]},
                                 headers=headers[step.role])
            if answer.status_code != 200:
                raise RuntimeError(f"{route.workflow} {step.action}: {answer.status_code} {answer.get_json()}")
            case = answer.get_json()
            done += 1
            if done == warmup or (done > warmup and (done - warmup) % every == 0):
                gc.collect()
                samples.append((done - warmup, rss_kib()))
            if done >= total:
                break
    return {"samples": samples, "seconds": round(time.perf_counter() - started, 1), "cases": opened,
            "transitions": done - warmup, "warmup": warmup}


def run(quick: bool, workdir: Path, **_: Any) -> list[Row]:
    transitions, warmup = (5_000, 500) if quick else (100_000, 2_000)
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--transitions", str(transitions), "--warmup", str(warmup),
         "--db", str(workdir / "memory.db")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory worker failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    (_, before), (_, after) = result["samples"][0], result["samples"][-1]
    growth = after / before - 1
    label = f"{transitions // 1000}k" if transitions >= 1000 else str(transitions)
    return [Row(
        "5 memory (worker RSS)", f"RSS after {label} transitions vs after warm-up", after / 1024, before / 1024,
        "MiB", 1 + growth, "after ÷ before", f"≤ {1 + TARGET_GROWTH:.2f}", growth <= TARGET_GROWTH,
        note=f"growth {growth:+.1%}; {result['transitions']} transitions in {result['seconds']} s "
             f"({result['cases']} cases)",
        extra=result,
    )]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    print(json.dumps(work(args.transitions, args.warmup, args.db)))


if __name__ == "__main__":
    main()
