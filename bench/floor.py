"""Benchmark 1: one durable transition through `advance` against the raw-SQL floor, on a file SQLite database
and on PostgreSQL (a schema of its own).

Ours: a fresh session loads the case, `advance` checks it (state, roles, four-eyes, inputs, guards),
moves it, appends the hashed history row, starts and stops timers, and the session commits.
The floor: the same move as one UPDATE of the case (a compare-and-set on lock_version, carrying the
chain head: last seq, hash and mover) and one INSERT of its history row, committed, on the same file
through the same driver (sqlite3, WAL, the service's pragmas). Both walk the same route on cases of
their own, step by step in alternation, so both meet the same moment of a disk whose fsync time
varies tenfold over a day on a shared machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .common import (
    Row,
    Stopwatch,
    create_users,
    make_clock,
    open_cases,
    pg_schema,
    pg_url,
    publish_shipped,
    service_sessions,
    sqlite_database,
    step_once,
    utcnow,
)
from .routes import ROLES, ROUTES, Route

TARGET = 2.0
FAKE_HASH = "f" * 64

UPDATE = (
    "UPDATE cases SET state = ?, updated_at = ?, lock_version = ?, last_seq = ?, last_hash = ?, last_mover = ? "
    "WHERE id = ? AND lock_version = ?"
)
INSERT = (
    "INSERT INTO history (case_id, seq, kind, at, actor, action, from_state, to_state, inputs, comment, "
    "prev_hash, hash) VALUES (?, ?, 'transition', ?, ?, ?, ?, ?, ?, NULL, ?, ?)"
)


def _sqlite_time(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy stores a DateTime on SQLite


class Floor:
    """The same moves as bare SQL: what any durable transition must at least cost."""

    def __init__(self, engine: sa.Engine):
        self.raw = engine.raw_connection()
        self.conn: Any = cast(Any, self.raw.driver_connection)
        self.postgres = engine.dialect.name == "postgresql"

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.postgres else text  # psycopg's placeholders, sqlite3's

    def prepare(self, case_ids: list[int]) -> dict[int, list[Any]]:
        """lock_version, last seq and state of each case, which a floor implementation would keep at hand."""
        rows = self.conn.execute(self._sql(
            f"SELECT c.id, c.lock_version, (SELECT max(seq) FROM history h WHERE h.case_id = c.id), c.state "
            f"FROM cases c WHERE c.id IN ({','.join('?' * len(case_ids))})"), case_ids,
        ).fetchall()
        self.conn.commit()
        return {case_id: [version, seq, state] for case_id, version, seq, state in rows}

    def move(self, case_id: int, known: list[Any], step: Any) -> None:
        version, seq, from_state = known
        now = utcnow() if self.postgres else _sqlite_time(utcnow())
        cur = self.conn.execute(self._sql(UPDATE), (step.to, now, version + 1, seq + 1, FAKE_HASH, step.role, case_id,
                                                    version))
        if cur.rowcount != 1:
            raise RuntimeError(f"floor: case {case_id} changed under us")
        self.conn.execute(self._sql(INSERT), (
            case_id, seq + 1, now, step.role, step.action, from_state, step.to,
            json.dumps(step.inputs, ensure_ascii=False), FAKE_HASH, FAKE_HASH,
        ))
        self.conn.commit()
        known[:] = [version + 1, seq + 1, step.to]

    def close(self) -> None:
        self.raw.close()


def _walk_both(factory: Callable[[], Session], clock: Any, floor: Floor, route: Route, ours_id: int, floor_id: int,
               ours: Stopwatch, bare: Stopwatch, ours_first: bool) -> None:
    """Walk one case each, step by step in alternation, so both meet the same moment of a noisy disk."""
    known = floor.prepare([floor_id])[floor_id]
    for step in route.steps:
        for mine in ((True, False) if ours_first else (False, True)):
            if mine:
                with ours.timing():
                    step_once(factory, clock, ours_id, step)
            else:
                with bare.timing():
                    floor.move(floor_id, known, step)
        ours_first = not ours_first


def run(quick: bool, workdir: Path, pg: str | None = None, **_: Any) -> list[Row]:
    rows = _measure("1 engine vs SQL floor", sqlite_database(workdir / "floor.db"), quick)
    with pg_schema(pg_url(pg), "bench_floor") as url:
        rows += _measure("1 engine vs SQL floor (PostgreSQL)", url, quick)
    return rows


def _measure(bench: str, url: str, quick: bool) -> list[Row]:
    cases = 8 if quick else 60
    engine = sa.create_engine(url)
    factory = service_sessions(engine)
    clock = make_clock()
    with factory() as session:
        publish_shipped(session, clock)
        create_users(session, clock, ROLES)  # the appraisal route opens sheets for people on the staff register
        session.commit()
    floor = Floor(engine)
    rows: list[Row] = []
    all_ours, all_floor = Stopwatch(), Stopwatch()
    try:
        for key, route in ROUTES.items():
            with factory() as session:
                # one warm-up case each (definition parsed, statements compiled), then the measured ones
                ours_ids = open_cases(session, clock, route, 1 + cases)
                # right after ours: an appraisal sheet's month counts from n, and years end at 2100
                floor_ids = open_cases(session, clock, route, 1 + cases, start=1 + cases)
                session.commit()
            _walk_both(factory, clock, floor, route, ours_ids[0], floor_ids[0], Stopwatch(), Stopwatch(), True)
            ours, bare = Stopwatch(), Stopwatch()
            for n in range(1, len(ours_ids)):
                _walk_both(factory, clock, floor, route, ours_ids[n], floor_ids[n], ours, bare, n % 2 == 0)
            all_ours.samples += ours.samples
            all_floor.samples += bare.samples
            ratio = ours.mean_ms / bare.mean_ms
            rows.append(Row(
                bench, f"{key}: one transition (mean of {len(ours.samples)})",
                ours.mean_ms, bare.mean_ms, "ms", ratio, "ours ÷ floor", f"≤ {TARGET}", ratio <= TARGET,
                extra={"median_ms": ours.median_ms, "floor_median_ms": bare.median_ms, "steps": len(route.steps),
                       "overhead_ms": ours.mean_ms - bare.mean_ms},
            ))
    finally:
        floor.close()
        engine.dispose()
    ratio = all_ours.mean_ms / all_floor.mean_ms
    rows.append(Row(
        bench, f"all five workflows (mean of {len(all_ours.samples)})",
        all_ours.mean_ms, all_floor.mean_ms, "ms", ratio, "ours ÷ floor", f"≤ {TARGET}", ratio <= TARGET,
        extra={"median_ms": all_ours.median_ms, "floor_median_ms": all_floor.median_ms,
               "overhead_ms": all_ours.mean_ms - all_floor.mean_ms},
    ))
    return rows
