"""Benchmark 4: one transition, the inbox and a timer sweep at 10³, 10⁵ and 10⁶ cases on PostgreSQL.

The data is real rows multiplied. First the engine itself opens one case per route prefix of every
shipped workflow (bench/routes.py) and walks it that far: about 60 template cases, open and closed,
with their history and timers. Then COPY writes clones of them: 80 % closed cases spread over two
years, 20 % open cases from the last 20 days, each with the history and timers of its template,
shifted in time. A running timer whose shifted moment has passed is written as the worker would have
left it (expired, or warned), so at the reference moment nothing is due unless we plant it. Row
hashes are copied, not re-chained: nothing here verifies them. Sizes grow in place (10³, then 10⁵,
then 10⁶), with VACUUM ANALYZE after each load, as autovacuum would leave a live database.

At each size:
- transition: two clones of every open template each take their template's next step through the
  real `advance` and commit (the median of about 110); the time before COMMIT is reported beside it,
  as the commit's fsync varies with the disk, not with the size of the tables;
- inbox: the page a role sees first, written as an inbox would query it (below), with the schema as
  migrated and again with the one index it wants;
- sweep: 10 timers are made due on 10 random open cases, then `fire_due_timers` handles them.
"""

from __future__ import annotations

import json
import random
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from workflow.definitions import Definition, load_text, shipped_files
from workflow.engine import advance, get_case, open_case, workflow_of
from workflow.engine.worker import fire_due_timers
from workflow.models import WorkflowVersion

from .common import (
    Row,
    Stopwatch,
    actor,
    create_users,
    make_clock,
    pg_schema,
    pg_url,
    publish_shipped,
    service_sessions,
    step_once,
)
from .routes import ROUTES, Step

INBOX_ROLE = "service_lead"
PROPOSED_INDEX = "CREATE INDEX {name} ON timers (due_at, id) WHERE status = 'running'"
CLOSED_SHARE = 0.8
BEFORE_COMMIT = "(before commit)"
DAY = 86400.0


# ------------------------------------------------------------------------------------------------ templates

@dataclass
class Template:
    workflow: str
    case: dict[str, Any]
    history: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    keys: list[dict[str, Any]]
    next_step: Step | None  # None when the case is closed


def _definitions() -> dict[str, Definition]:
    return {f.stem: load_text(f.read_text("utf-8"), str(f), f.stem) for f in shipped_files()}


def make_templates(factory: Any, clock: Any, conn: psycopg.Connection) -> list[Template]:
    """Let the engine open and walk one case per route prefix; read back their rows."""
    made: list[tuple[str, int, Step | None]] = []
    for key, route in ROUTES.items():
        for k in range(len(route.steps) + 1):
            with factory() as session:
                case = open_case(session, clock, key, route.opening(k), actor(route.opener))
                session.commit()
                case_id = case.id
            for step in route.steps[:k]:
                step_once(factory, clock, case_id, step)
            made.append((key, case_id, route.steps[k] if k < len(route.steps) else None))
    ids = [case_id for _, case_id, _ in made]

    def rows(sql: str) -> list[dict[str, Any]]:
        cur = conn.execute(sql, (ids,))
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    cases = {r["id"]: r for r in rows("SELECT * FROM cases WHERE id = ANY(%s)")}
    history = rows("SELECT * FROM history WHERE case_id = ANY(%s) ORDER BY case_id, seq")
    timers = rows("SELECT * FROM timers WHERE case_id = ANY(%s) ORDER BY case_id, id")
    has_keys = conn.execute("SELECT to_regclass('case_keys') IS NOT NULL").fetchone()[0]  # type: ignore[index]
    keys = rows("SELECT * FROM case_keys WHERE case_id = ANY(%s)") if has_keys else []
    conn.commit()
    return [
        Template(key, cases[case_id], [h for h in history if h["case_id"] == case_id],
                 [t for t in timers if t["case_id"] == case_id], [k for k in keys if k["case_id"] == case_id], step)
        for key, case_id, step in made
    ]


# ------------------------------------------------------------------------------------------------ COPY text

def _text(value: Any) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, bool):
        value = "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class Cloner:
    """Writes clones of the templates as COPY text, table by table, from one plan of (template, offset)."""

    TIMER_TIMES = ("started_at", "due_at", "warn_at", "stopped_at", "next_action_at", "warned_at", "expired_at")

    def __init__(self, templates: list[Template], definitions: dict[str, Definition], reference: datetime):
        self.templates = templates
        self.reference = reference.timestamp()
        self.open = [i for i, t in enumerate(templates) if t.next_step is not None]
        self.closed = [i for i, t in enumerate(templates) if t.next_step is None]
        self.specs = {key: {s.name: s for s in d.timers} for key, d in definitions.items()}
        self.columns = {
            "cases": list(templates[0].case),
            "history": list(templates[0].history[0]),
            "timers": list(next(t for tpl in templates for t in tpl.timers)),
            "case_keys": list(next((k for tpl in templates for k in tpl.keys), {})),
        }

    def plan(self, count: int, rng: random.Random) -> tuple[array, array]:
        """Which template and which time offset each of `count` new cases gets."""
        which, offsets = array("i"), array("d")
        for _ in range(count):
            if rng.random() < CLOSED_SHARE:
                which.append(rng.choice(self.closed))
                offsets.append(-rng.uniform(1, 730) * DAY)
            else:
                which.append(rng.choice(self.open))
                offsets.append(-rng.uniform(0, 20) * DAY)
        return which, offsets

    def _fixed(self, row: dict[str, Any], columns: list[str]) -> list[str]:
        return [_text(row[c]) for c in columns]

    def cases(self, first_id: int, which: array, offsets: array) -> Iterator[str]:
        cols = self.columns["cases"]
        i_id, i_number = cols.index("id"), cols.index("number")
        times = [(cols.index(c), c) for c in ("created_at", "updated_at")]
        fixed = [self._fixed(t.case, cols) for t in self.templates]
        stamps = [{c: _epoch(t.case[c]) for _, c in times} for t in self.templates]
        for n, (w, off) in enumerate(zip(which, offsets, strict=True)):
            case_id = first_id + n
            vals = fixed[w][:]
            vals[i_id] = str(case_id)
            number = self.templates[w].case["number"]
            vals[i_number] = _text(f"{number}-{case_id}") if number else "\\N"
            for i, c in times:
                vals[i] = _ts(stamps[w][c] + off)  # type: ignore[operator]
            yield "\t".join(vals) + "\n"

    def history(self, first_case: int, first_id: int, which: array, offsets: array) -> Iterator[str]:
        cols = self.columns["history"]
        i_id, i_case, i_at = cols.index("id"), cols.index("case_id"), cols.index("at")
        fixed = [[(self._fixed(h, cols), h["at"].timestamp()) for h in t.history] for t in self.templates]
        next_id = first_id
        for n, (w, off) in enumerate(zip(which, offsets, strict=True)):
            case_id = str(first_case + n)
            for vals, at in fixed[w]:
                vals = vals[:]
                vals[i_id], vals[i_case], vals[i_at] = str(next_id), case_id, _ts(at + off)
                next_id += 1
                yield "\t".join(vals) + "\n"

    def timers(self, first_case: int, first_id: int, which: array, offsets: array, rng: random.Random
               ) -> Iterator[str]:
        cols = self.columns["timers"]
        index = {c: cols.index(c) for c in ("id", "case_id", "expired_state", *self.TIMER_TIMES)}
        fixed = [[(self._fixed(t, cols), t) for t in tpl.timers] for tpl in self.templates]
        next_id = first_id
        for n, (w, off) in enumerate(zip(which, offsets, strict=True)):
            template = self.templates[w]
            case_id = str(first_case + n)
            for vals, timer in fixed[w]:
                vals = vals[:]
                vals[index["id"]], vals[index["case_id"]] = str(next_id), case_id
                next_id += 1
                moved = {c: (timer[c].timestamp() + off if timer[c] is not None else None) for c in self.TIMER_TIMES}
                if timer["status"] == "running":
                    self._as_the_worker_left_it(moved, template, timer, vals, index, rng)
                for c in self.TIMER_TIMES:
                    vals[index[c]] = _ts(moved[c]) if moved[c] is not None else "\\N"  # type: ignore[arg-type]
                yield "\t".join(vals) + "\n"

    def _as_the_worker_left_it(self, moved: dict[str, float | None], template: Template, timer: dict[str, Any],
                               vals: list[str], index: dict[str, int], rng: random.Random) -> None:
        ref, due, warn = self.reference, moved["due_at"], moved["warn_at"]
        assert due is not None
        if due <= ref:  # expired while the case rested: marked, and only a repeat is still to come
            moved["expired_at"] = due
            moved["warned_at"] = warn
            spec = self.specs[template.workflow].get(timer["name"])
            moved["next_action_at"] = ref + rng.uniform(3600, DAY) if spec is not None and spec.repeat else None
            vals[index["expired_state"]] = _text(template.case["state"])
        elif warn is not None and warn <= ref:
            moved["warned_at"] = warn
            moved["next_action_at"] = due

    def case_keys(self, first_case: int, which: array) -> Iterator[str]:
        cols = self.columns["case_keys"]
        if not cols:
            return
        i_case, i_value = cols.index("case_id"), cols.index("value")
        for n, w in enumerate(which):
            for key in self.templates[w].keys:
                vals = self._fixed(key, cols)
                vals[i_case] = str(first_case + n)
                vals[i_value] = _text(f"{key['value']}#{first_case + n}")
                yield "\t".join(vals) + "\n"


def _copy(conn: psycopg.Connection, table: str, columns: list[str], lines: Iterator[str]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        chunk: list[str] = []
        size = 0
        for line in lines:
            chunk.append(line)
            size += len(line)
            if size > 1 << 20:
                copy.write("".join(chunk))
                chunk, size = [], 0
        if chunk:
            copy.write("".join(chunk))


def grow(conn: psycopg.Connection, cloner: Cloner, count: int, rng: random.Random) -> dict[str, Any]:
    """Add `count` cloned cases with their history, timers (and case keys) by COPY; returns what it took."""
    started = time.perf_counter()
    which, offsets = cloner.plan(count, rng)
    (first_case,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM cases").fetchone()  # type: ignore[misc]
    (first_history,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM history").fetchone()  # type: ignore[misc]
    (first_timer,) = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM timers").fetchone()  # type: ignore[misc]
    try:  # a bulk load of rows that are consistent by construction skips the per-row foreign-key triggers
        conn.execute("SET session_replication_role = replica")
    except psycopg.Error:
        conn.rollback()
    _copy(conn, "cases", cloner.columns["cases"], cloner.cases(first_case, which, offsets))
    _copy(conn, "history", cloner.columns["history"], cloner.history(first_case, first_history, which, offsets))
    _copy(conn, "timers", cloner.columns["timers"],
          cloner.timers(first_case, first_timer, which, offsets, rng))
    if cloner.columns["case_keys"]:
        _copy(conn, "case_keys", cloner.columns["case_keys"], cloner.case_keys(first_case, which))
    for table in ("cases", "history", "timers"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    conn.execute("RESET session_replication_role")
    conn.commit()
    loaded = time.perf_counter() - started
    conn.autocommit = True
    for table in ("cases", "history", "timers"):
        conn.execute(f"VACUUM (ANALYZE) {table}")
    conn.autocommit = False
    return {"added": count, "first_case": first_case, "load_s": round(loaded, 1),
            "vacuum_s": round(time.perf_counter() - started - loaded, 1)}


# ------------------------------------------------------------------------------------------------ measures

def inbox_sql(session: Session, role: str) -> str:
    """The first inbox page of `role`: cases in a state where it may act, the earliest running timer first.

    The page is found by walking the running timers in due order and probing each one's case (by
    primary key) for an actionable state and for being that case's earliest running timer, until 50
    cases are found: with an index on the running timers' due moment the walk stops after a few
    hundred probes whatever the size. The probe is a LATERAL subquery kept from being flattened
    (OFFSET 0): flattened, PostgreSQL prefers to read every actionable case and sort. Cases with no
    running timer follow, newest first, and are only read when the first part leaves room. The
    actionable filter is the API's (version and states per published version), plus the workflow
    key, which lets ix_cases_workflow_state serve that second part.
    """
    pairs = []
    for version in session.scalars(sa.select(WorkflowVersion)):
        definition = workflow_of(version).definition
        states = sorted({s for t in definition.transitions.values() if role in t.roles for s in t.sources})
        if states:
            pairs.append(f"(c.workflow_key = '{version.key}' AND c.version_id = {version.id} "
                         f"AND c.state IN ({', '.join(repr(s) for s in states)}))")
    actionable = " OR ".join(pairs) or "false"
    return f"""
(SELECT c.id, c.number, c.workflow_key, c.state, t.due_at
   FROM timers t
  CROSS JOIN LATERAL (
        SELECT c.id, c.number, c.workflow_key, c.state FROM cases c
         WHERE c.id = t.case_id AND ({actionable})
           AND NOT EXISTS (SELECT 1 FROM timers e WHERE e.case_id = t.case_id AND e.status = 'running'
                              AND (e.due_at < t.due_at OR (e.due_at = t.due_at AND e.id < t.id)))
        OFFSET 0) c
  WHERE t.status = 'running'
  ORDER BY t.due_at, t.id LIMIT 50)
UNION ALL
(SELECT c.id, c.number, c.workflow_key, c.state, NULL
   FROM cases c
  WHERE ({actionable})
    AND NOT EXISTS (SELECT 1 FROM timers e WHERE e.case_id = c.id AND e.status = 'running')
  ORDER BY c.updated_at DESC, c.id DESC LIMIT 50)
LIMIT 50"""


def time_inbox(conn: psycopg.Connection, sql: str, runs: int) -> tuple[float, int, str]:
    rows = conn.execute(sql).fetchall()  # warm
    conn.execute(sql).fetchall()
    watch = Stopwatch()
    for _ in range(runs):
        with watch.timing():
            conn.execute(sql).fetchall()
    plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql).fetchall())
    conn.commit()
    return watch.median_ms, len(rows), plan


def plantable_timers(definitions: dict[str, Definition]) -> list[str]:
    """Timers whose expiry only notifies (no move, no repeat), so a sweep does the same work at every size."""
    return sorted({s.name for d in definitions.values() for s in d.timers if not s.fire and not s.repeat})


def time_sweep(conn: psycopg.Connection, factory: Any, clock: Any, reference: datetime, names: list[str],
               runs: int) -> tuple[float, list[int]]:
    """Median time of `fire_due_timers` over `runs` sweeps, each with 10 fresh due timers on 10 open cases."""
    watch = Stopwatch()
    counts = []
    due = reference - timedelta(minutes=1)
    fire_due_timers(factory, clock, now=reference)  # warm-up, and anything the measured moves left due
    for _ in range(runs):
        candidates = conn.execute(
            "SELECT id FROM (SELECT DISTINCT ON (case_id) id FROM timers WHERE status = 'running' "
            "AND next_action_at > %s AND name = ANY(%s) ORDER BY case_id, id) t ORDER BY random() LIMIT 10",
            (reference, names),
        ).fetchall()
        chosen = [r[0] for r in candidates]
        conn.execute(
            "UPDATE timers SET due_at = %s, warn_at = NULL, warned_at = NULL, next_action_at = %s "
            "WHERE id = ANY(%s)", (due, due, chosen),
        )
        conn.commit()
        with watch.timing():
            report = fire_due_timers(factory, clock, now=reference)
        counts.append(report.cases)
    return watch.median_ms, counts


def time_transitions(factory: Any, clock: Any, conn: psycopg.Connection, templates: list[Template],
                     first_clone: int, per_template: int, rng: random.Random) -> dict[str, Stopwatch]:
    """Move `per_template` untouched clones of every open template one step each; times per workflow."""
    watches: dict[str, Stopwatch] = {}
    moves: list[tuple[int, str, Step]] = []
    for template in templates:
        if template.next_step is None:
            continue
        ids = [r[0] for r in conn.execute(
            # workflow, state and lock_version (the number of moves) single out the template of a clone
            "SELECT id FROM cases WHERE id >= %s AND workflow_key = %s AND state = %s AND lock_version = %s LIMIT 200",
            (first_clone, template.workflow, template.case["state"], template.case["lock_version"]),
        ).fetchall()]
        moves += [(case_id, template.workflow, template.next_step)
                  for case_id in rng.sample(ids, min(per_template, len(ids)))]
    conn.commit()
    rng.shuffle(moves)
    for case_id, _, step in moves[:5]:  # warm-up: statement caches, connection pool
        step_once(factory, clock, case_id, step)
    work = Stopwatch()
    for case_id, workflow, step in moves[5:]:
        # as step_once, but with the time before COMMIT kept apart: the part that could grow with the tables
        started = time.perf_counter()
        with factory() as session:
            advance(session, clock, get_case(session, case_id), step.action, actor(step.role), step.inputs)
            work.samples.append(time.perf_counter() - started)
            session.commit()
        watches.setdefault(workflow, Stopwatch()).samples.append(time.perf_counter() - started)
    watches[BEFORE_COMMIT] = work
    return watches


# ------------------------------------------------------------------------------------------------ run

def run(quick: bool, workdir: Path, pg: str | None = None, **_: Any) -> list[Row]:
    sizes = (1_000, 10_000) if quick else (1_000, 100_000, 1_000_000)
    inbox_runs, sweep_runs, per_template = (10, 3, 1) if quick else (25, 5, 2)
    rng = random.Random(6)
    definitions = _definitions()
    clock = make_clock()
    reference = clock.now()
    figures: dict[int, dict[str, Any]] = {}
    with pg_schema(pg_url(pg), "bench_scale") as url:
        engine = sa.create_engine(url)
        factory = service_sessions(engine)
        with factory() as session:
            publish_shipped(session, clock)
            roles = {r for d in definitions.values() for r in d.roles} - {"system"}
            create_users(session, clock, roles)
            session.commit()
        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        try:
            templates = make_templates(factory, clock, conn)
            first_clone = max(t.case["id"] for t in templates) + 1
            cloner = Cloner(templates, definitions, reference)
            with factory() as session:
                inbox = inbox_sql(session, INBOX_ROLE)
            names = plantable_timers(definitions)
            have = len(templates)
            for size in sizes:
                load = grow(conn, cloner, size - have, rng)
                have = size
                counts = dict(zip(("cases", "history", "timers"), conn.execute(
                    "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM history), "
                    "(SELECT count(*) FROM timers WHERE status = 'running')").fetchone() or (), strict=True))
                conn.commit()
                per_workflow = time_transitions(factory, clock, conn, templates, first_clone, per_template, rng)
                work = per_workflow.pop(BEFORE_COMMIT)
                moves = Stopwatch()
                for watch in per_workflow.values():
                    moves.samples += watch.samples
                inbox_ms, inbox_rows, plan = time_inbox(conn, inbox, inbox_runs)
                index = f"bench_ix_timers_running_due_{size}"
                conn.execute(PROPOSED_INDEX.format(name=index))
                conn.execute("ANALYZE timers")
                conn.commit()
                indexed_ms, indexed_rows, indexed_plan = time_inbox(conn, inbox, inbox_runs)
                conn.execute(f"DROP INDEX {index}")
                conn.commit()
                sweep_ms, swept = time_sweep(conn, factory, clock, reference, names, sweep_runs)
                figures[size] = {
                    "load": load, "rows": counts, "transition_ms": moves.median_ms,
                    "transition_mean_ms": moves.mean_ms, "transitions": len(moves.samples),
                    "transition_ms_by_workflow": {k: w.median_ms for k, w in sorted(per_workflow.items())},
                    "transition_before_commit_ms": work.median_ms,
                    "inbox_ms": inbox_ms, "inbox_rows": inbox_rows, "inbox_indexed_ms": indexed_ms,
                    "sweep_ms": sweep_ms, "swept_cases": swept,
                    "plan": plan, "indexed_plan": indexed_plan,
                }
        finally:
            conn.close()
            engine.dispose()
    return _rows(figures, sizes, quick)


def _rows(figures: dict[int, dict[str, Any]], sizes: tuple[int, ...], quick: bool) -> list[Row]:
    base = figures[sizes[0]]
    largest = sizes[-1]
    rows = []
    label = {1_000: "10³", 10_000: "10⁴", 100_000: "10⁵", 1_000_000: "10⁶"}
    for size in sizes:
        f = figures[size]
        name = label.get(size, str(size))
        r = f["transition_ms"] / base["transition_ms"]
        by_workflow = {k: v / base["transition_ms_by_workflow"][k] for k, v in f["transition_ms_by_workflow"].items()}
        worst = max(by_workflow, key=lambda k: by_workflow[k])
        first = size == sizes[0]
        rows.append(Row("4 scale (PostgreSQL)", f"{name} cases: one transition (median of {f['transitions']})",
                        f["transition_ms"], base["transition_ms"], "ms", r, "÷ 10³", "" if first else "≤ 1.2×",
                        None if first else r <= 1.2,
                        note=f"before COMMIT {f['transition_before_commit_ms']:.2f} ms" + ("" if first else (
                            f" (÷ 10³: {f['transition_before_commit_ms'] / base['transition_before_commit_ms']:.2f})"
                            f"; slowest-growing workflow: {worst} ×{by_workflow[worst]:.2f}")),
                        extra={k: v for k, v in f.items() if k not in ("plan", "indexed_plan")}))
        for what, key, note in (("inbox, schema as migrated", "inbox_ms",
                                 "migrations include ix_timers_running_due_at since 2026-11-23"),
                                ("inbox, + a second such index", "inbox_indexed_ms", PROPOSED_INDEX.format(
                                    name="bench_ix_timers_running_due")),
                                ("sweep of 10 due timers", "sweep_ms", f"cases swept per run: {f['swept_cases']}")):
            r = f[key] / base[key]
            final = size == largest
            target = "≤ 20 ms at 10⁶" if final else ""
            rows.append(Row("4 scale (PostgreSQL)", f"{name} cases: {what}", f[key], base[key], "ms", r, "÷ 10³",
                            target, (f[key] <= 20.0) if final else None,
                            note=note + ("; quick run: 10⁴ stands in for 10⁶" if final and quick else ""),
                            extra={"plan": f["plan"] if key == "inbox_ms" else f["indexed_plan"]}
                            if key != "sweep_ms" else {}))
    return rows
