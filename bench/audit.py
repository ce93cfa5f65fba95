"""Benchmark 6: the auditors' workspace at 10⁶ cases and ~10⁷ history rows on PostgreSQL (issue 14).

The schema is the migrations' (a fresh PostgreSQL schema at head). One case of the repair workflow is
walked by the engine through 30 moves (its golden path with the repair sent back eleven more times): the
case replayed. The bulk is written by set-based SQL (INSERT … SELECT generate_series), ROWS_PER_CASE history
rows per case, with the history's secondary indexes dropped during the load and built again after it,
then VACUUM ANALYZE. The rows are realistic in shape, not in meaning: each case of a workflow takes the
steps of that workflow's golden path in turn (actions, states, the acting role), opened over the last
MONTHS months, a few hours between steps; the actors are 30 people per role, and one busy service clerk
takes BUSY_SHARE of all steps, so that one actor's month holds more than 1,000 pages. Hashes are filler:
nothing here verifies the chains.

Measured, each through the engine's own functions (no HTTP):
- search: `trail.search_history` for the busy clerk in one calendar month, page 1 and page 1,000 (50 rows a
  page), the median of repeated warm runs; page 1,000's cursor is the one the walk through pages 1–999 gave,
  and is checked against the 49,950th row found by OFFSET;
- replay: `replay_as_of` of the 30-move case as of now, the median of repeated runs;
- export: the first EXPORT_ROWS rows of the history (a search by time) streamed through
  `trail.export_records` and `trail.csv_lines` (what GET /audit/export.csv sends), the RSS of this process
  sampled as it goes: growth = the largest sample over the one after the first batch.

Scale: BENCH_AUDIT_CASES (default 10⁶; `--quick`: 2,000 cases, where page 1,000 does not exist and the deepest
page there is is timed instead). The quick run judges nothing on time: its rows carry no `met`.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.engine import get_case, open_case
from workflow.engine.replay import replay_as_of
from workflow.engine.trail import Search, csv_lines, export_records, search_history

from .common import Row, actor, create_users, make_clock, pg_schema, pg_url, publish_shipped, step_once
from .memory import rss_kib
from .routes import ROLES, ROUTES

FULL_CASES = 1_000_000
QUICK_CASES = 2_000
ROWS_PER_CASE = 10
MONTHS = 12
PEOPLE_PER_ROLE = 30
BUSY = "service_clerk_01"
BUSY_SHARE = 0.12
PAGE = 50
DEEP_PAGE = 1_000
EXPORT_ROWS = 1_000_000
REPLAY_PATH = ("repair_dispatch", "workshop_repair_sent_back_once_then_rated_well")
REPLAY_MOVES = 30
LOAD_CHUNK = 100_000  # cases per INSERT statement (and per commit)
TARGET_SEARCH_MS, TARGET_REPLAY_MS, TARGET_GROWTH = 50.0, 20.0, 0.10


def _say(text: str) -> None:
    print(f"   audit: {text}", file=sys.stderr, flush=True)


def _median_ms(fn: Any, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


# ------------------------------------------------------------------------------------------ the data


def walk_replayed_case(factory: Any, clock: Any) -> int:
    """The case to replay: the golden path, its send-back loop repeated until it makes REPLAY_MOVES moves."""
    key, name = REPLAY_PATH
    path = ROUTES[key].paths.paths[name]
    steps = list(path.steps)
    loop_at = next(i for i, s in enumerate(steps) if steps[i + 1].action != s.action
                   and any(t.action == s.action for t in steps[i + 1:]))  # finish, send back, finish again
    loop = steps[loop_at:loop_at + 2]
    while len(steps) < REPLAY_MOVES:
        steps[loop_at:loop_at] = loop
    steps = steps[:REPLAY_MOVES]
    with factory() as session:
        case = open_case(session, clock, key, dict(path.data), actor(ROUTES[key].opener))
        session.commit()
        case_id = case.id
    for step in steps:
        step_once(factory, clock, case_id, step)
    return case_id


def _steps_table() -> str:
    """The golden paths' steps as a VALUES list: (workflow number, step number, action, from, to, role)."""
    rows = []
    for w, route in enumerate(ROUTES.values()):
        before = None
        for n, step in enumerate(route.steps):
            rows.append(f"({w}, {n}, '{step.action}', {f'{before!r}' if before else 'NULL'}, '{step.to}', "
                        f"'{step.role}')")
            before = step.to
    return "(VALUES " + ", ".join(rows) + ") AS step(w, n, action, from_state, to_state, role)"


def _json(conn: psycopg.Connection, table: str, column: str) -> str:
    row = conn.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                       "AND table_name = %s AND column_name = %s", (table, column)).fetchone()
    return "jsonb" if row and row[0] == "jsonb" else "json"


def load(conn: psycopg.Connection, cases: int, versions: dict[str, int], now: datetime) -> dict[str, float]:
    """Write `cases` cases and ROWS_PER_CASE history rows each, set-based; returns seconds per phase."""
    seconds: dict[str, float] = {}
    keys = list(ROUTES)
    lengths = [len(ROUTES[k].steps) for k in keys]
    data_type, inputs_type = _json(conn, "cases", "data"), _json(conn, "history", "inputs")
    indexes = conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                           "AND tablename = 'history' AND indexname NOT IN "
                           "(SELECT conname FROM pg_constraint WHERE conrelid = 'history'::regclass)").fetchall()
    conn.execute("SET maintenance_work_mem = '512MB'")
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.commit()
    first = int(conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]) + 1  # type: ignore[index]
    span = MONTHS * 30 * 86400
    t0 = time.perf_counter()
    for lo in range(0, cases, LOAD_CHUNK):
        hi = min(cases, lo + LOAD_CHUNK)
        conn.execute(f"""
            INSERT INTO cases (id, number, workflow_key, version_id, state, data, lock_version, created_by,
                               created_at, updated_at, last_seq, last_hash, last_mover)
            SELECT {first} + g, 'B' || lpad(g::text, 8, '0'), (%(keys)s::text[])[1 + g %% 5],
                   (%(versions)s::int[])[1 + g %% 5], 'bench', '{{}}'::{data_type}, {ROWS_PER_CASE}, 'bench',
                   t, t + interval '3 hours' * {ROWS_PER_CASE}, {ROWS_PER_CASE}, repeat('0', 64), 'bench'
            FROM generate_series(%(lo)s, %(hi)s - 1) AS g,
                 LATERAL (SELECT %(now)s::timestamptz - interval '1 second' * ((g::bigint * 7919) %% %(span)s)
                          - interval '3 hours' * {ROWS_PER_CASE} AS t) AS opened
        """, {"keys": keys, "versions": [versions[k] for k in keys], "lo": lo, "hi": hi, "now": now, "span": span})
        conn.commit()
    seconds["cases"] = time.perf_counter() - t0
    _say(f"{cases:,} cases in {seconds['cases']:.0f} s")
    t0 = time.perf_counter()
    for lo in range(0, cases, LOAD_CHUNK):
        hi = min(cases, lo + LOAD_CHUNK)
        conn.execute(f"""
            INSERT INTO history (case_id, seq, kind, at, actor, action, from_state, to_state, inputs, comment,
                                 prev_hash, hash)
            SELECT c.id, s, 'transition', c.created_at + interval '3 hours' * (s - 1)
                                          + interval '1 second' * ((c.id * 31 + s * 977) %% 7200),
                   CASE WHEN random() < {BUSY_SHARE} THEN '{BUSY}'
                        ELSE step.role || '_' || lpad((1 + floor(random() * {PEOPLE_PER_ROLE}))::int::text, 2, '0')
                   END,
                   step.action, step.from_state, step.to_state,
                   json_build_object('amount', (c.id * 13 + s) %% 20000, 'note', 'step ' || s)::text::{inputs_type},
                   CASE WHEN s %% 4 = 0 THEN 'checked with the customer by phone' END,
                   md5(c.id || '/' || (s - 1)) || md5('p' || c.id || '/' || (s - 1)),
                   md5(c.id || '/' || s) || md5('p' || c.id || '/' || s)
            FROM cases AS c CROSS JOIN generate_series(1, {ROWS_PER_CASE}) AS s
            JOIN {_steps_table()}
              ON step.w = (c.id - {first}) %% 5
             AND step.n = (s - 1) %% (%(lengths)s::int[])[1 + (c.id - {first}) %% 5]
            WHERE c.id >= {first} + %(lo)s AND c.id < {first} + %(hi)s
        """, {"lo": lo, "hi": hi, "lengths": lengths})
        conn.commit()
        _say(f"history of {hi:,} cases")
    seconds["history"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _, definition in indexes:
        conn.execute(definition)
        conn.commit()
    seconds["indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE cases")
    conn.execute("VACUUM ANALYZE history")
    conn.autocommit = False
    seconds["vacuum"] = time.perf_counter() - t0
    _say("loaded: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))
    return seconds


# ------------------------------------------------------------------------------------------ the measures


def _busiest_month(conn: psycopg.Connection, now: datetime) -> tuple[datetime, datetime, int]:
    """The calendar month (UTC) of the busy clerk with the most rows: (since, until, rows)."""
    best = None
    month = datetime(now.year, now.month, 1, tzinfo=UTC)
    for _ in range(MONTHS):
        since = (month - timedelta(days=1)).replace(day=1)
        n = conn.execute("SELECT count(*) FROM history WHERE actor = %s AND at >= %s AND at < %s",
                         (BUSY, since, month)).fetchone()[0]  # type: ignore[index]
        if best is None or n > best[2]:
            best = (since, month, int(n))
        month = since
    assert best is not None
    return best


def time_search(session: Session, conn: psycopg.Connection, now: datetime, runs: int) -> dict[str, Any]:
    since, until, rows = _busiest_month(conn, now)
    search = Search(actor=BUSY, since=since, until=until)
    auditor = actor("auditor")
    deep = max(1, min(DEEP_PAGE, rows // PAGE))
    cursor = None
    walk = time.perf_counter()
    first_ms = 0.0
    for page in range(1, deep):
        start = time.perf_counter()
        found = search_history(session, auditor, search, cursor, PAGE)
        if page == 1:
            first_ms = (time.perf_counter() - start) * 1000
        cursor = found.after
    walk_s = time.perf_counter() - walk
    if deep > 1:
        at, row_id = conn.execute(
            "SELECT at, id FROM history WHERE actor = %s AND at >= %s AND at < %s ORDER BY at, id "
            "OFFSET %s LIMIT 1", (BUSY, since, until, (deep - 1) * PAGE - 1)).fetchone()  # type: ignore[misc]
        assert cursor is not None and cursor[1] == row_id and cursor[0] == at, "the walked cursor is not row n"
    page_one = _median_ms(lambda: search_history(session, auditor, search, None, PAGE), runs)
    page_deep = _median_ms(lambda: search_history(session, auditor, search, cursor, PAGE), runs)
    assert len(search_history(session, auditor, search, cursor, PAGE).rows) == PAGE
    return {"month": since.strftime("%Y-%m"), "rows": rows, "deep": deep, "page_one_ms": page_one,
            "page_deep_ms": page_deep, "first_cold_ms": first_ms, "walk_s": walk_s}


def time_replay(session: Session, clock: Any, case_id: int, runs: int) -> tuple[float, int]:
    case = get_case(session, case_id)
    now = clock.now()
    replayed = replay_as_of(session, clock, case, now)
    return _median_ms(lambda: replay_as_of(session, clock, case, now), runs), replayed.last_seq


def measure_export(session: Session, conn: psycopg.Connection, wanted: int) -> dict[str, Any]:
    """Stream the first `wanted` history rows (by time) through the export's generators, sampling RSS."""
    since = conn.execute("SELECT min(at) FROM history").fetchone()[0]  # type: ignore[index]
    edge = conn.execute("SELECT at FROM history ORDER BY at, id OFFSET %s LIMIT 1", (wanted,)).fetchone()
    until = edge[0] if edge else datetime.now(UTC) + timedelta(days=1)
    search = replace(Search(), since=since, until=until)
    gc.collect()
    start_kib = rss_kib()
    samples: list[int] = []
    rows = size = 0
    t0 = time.perf_counter()
    for line in csv_lines(export_records(session, actor("auditor"), search)):
        size += len(line.encode("utf-8"))
        rows += 1
        if rows % 10_000 == 1:
            samples.append(rss_kib())
    seconds = time.perf_counter() - t0
    samples.append(rss_kib())
    base = samples[1] if len(samples) > 2 else samples[0]  # after the first batch: the connection is warm
    peak = max(samples[1:]) if len(samples) > 2 else samples[-1]
    return {"rows": rows, "bytes": size, "seconds": seconds, "start_mib": start_kib / 1024,
            "base_mib": base / 1024, "peak_mib": peak / 1024, "growth": peak / base - 1,
            "growth_from_start": peak / start_kib - 1}


# ------------------------------------------------------------------------------------------ the run


def run(quick: bool, workdir: Path, pg: str | None = None, **_: Any) -> list[Row]:
    cases = QUICK_CASES if quick else int(os.environ.get("BENCH_AUDIT_CASES", FULL_CASES))
    runs = 5 if quick else 25
    clock = make_clock()
    with pg_schema(pg_url(pg), "bench_audit") as url:
        engine = sa.create_engine(url)

        def factory() -> Session:
            return Session(engine)

        with factory() as session:
            versions = publish_shipped(session, clock)
            create_users(session, clock, set(ROLES) | {"auditor"})
            session.commit()
        replayed_id = walk_replayed_case(factory, clock)
        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        try:
            now = clock.now()
            seconds = load(conn, cases, versions, now - timedelta(hours=1))
            total = int(conn.execute("SELECT count(*) FROM history").fetchone()[0])  # type: ignore[index]
            with factory() as session:
                search = time_search(session, conn, now, runs)
                replay_ms, replay_rows = time_replay(session, clock, replayed_id, runs)
                export = measure_export(session, conn, EXPORT_ROWS)
        finally:
            conn.close()
            engine.dispose()
    return rows_of(quick, cases, total, seconds, search, replay_ms, replay_rows, export)


def rows_of(quick: bool, cases: int, total: int, seconds: dict[str, float], search: dict[str, Any],
            replay_ms: float, replay_rows: int, export: dict[str, Any]) -> list[Row]:
    def met(ok: bool) -> bool | None:
        return None if quick else ok

    scale = f"{cases:,} cases, {total:,} history rows"
    extra = {"scale": scale, "load_seconds": {k: round(v, 1) for k, v in seconds.items()}}
    month = f"actor {BUSY}, month {search['month']} ({search['rows']:,} rows)"
    return [
        Row("6 audit", f"history search, page 1 — {month}", search["page_one_ms"], target="≤ 50 ms",
            met=met(search["page_one_ms"] <= TARGET_SEARCH_MS), note=scale,
            extra={**extra, "first_page_cold_ms": round(search["first_cold_ms"], 2)}),
        Row("6 audit", f"history search, page {search['deep']:,} (keyset cursor) — {month}", search["page_deep_ms"],
            target="≤ 50 ms", met=met(search["deep"] == DEEP_PAGE and search["page_deep_ms"] <= TARGET_SEARCH_MS),
            note=scale, extra={**extra, "walk_seconds": round(search["walk_s"], 1)}),
        Row("6 audit", f"replay of a {REPLAY_MOVES}-move case ({replay_rows} history rows) as of now", replay_ms,
            target="≤ 20 ms", met=met(replay_ms <= TARGET_REPLAY_MS), note=scale),
        Row("6 audit", f"CSV export of {export['rows']:,} rows streamed: RSS peak vs after the first batch",
            export["peak_mib"], export["base_mib"], unit="MiB", ratio=export["peak_mib"] / export["base_mib"],
            ratio_label="peak ÷ base", target="growth ≤ 10 %", met=met(export["growth"] <= TARGET_GROWTH),
            note=f"{export['seconds']:.0f} s, {export['bytes'] / 2**20:,.0f} MiB of CSV; {scale}",
            extra={**extra, **{k: round(v, 4) for k, v in export.items()}}),
    ]


if __name__ == "__main__":  # python -m bench.audit [cases]: this benchmark alone, printed as the table
    from .__main__ import table

    if len(sys.argv) > 1:
        os.environ["BENCH_AUDIT_CASES"] = sys.argv[1]
    print(table(run(False, Path("."), None)))
