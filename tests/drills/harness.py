"""What the drills share: the service as real subprocesses (gunicorn, the timer worker) that can be
SIGKILLed and restarted, a load generator that remembers every answer it got, and the checks that
nothing was lost, applied twice or left inconsistent.

Every subprocess is started by a drill in a session of its own and ended by its own pid (or group).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade

from web import create_app
from web.extensions import db
from workflow.definitions import Definition, load_text
from workflow.definitions.schema import SYSTEM_ROLE
from workflow.engine import Actor

ROOT = Path(__file__).resolve().parents[2]
DEFINITION_FILE = Path(__file__).parent / "definitions" / "drill.yaml"
FLASK = [sys.executable, "-m", "flask", "--app", "web"]
SECONDS = float(os.environ.get("DRILL_SECONDS", "60"))
SMOKE = SECONDS < 60  # below the 60 s, every other size shrinks too (each still has its variable)
REFUSALS = {"wrong_state", "stale_version"}
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DRILLER = Actor("drill0", frozenset({"clerk", "manager"}))  # opens and moves the drill's cases in-process


def setting(name: str, full: int, smoke: int) -> int:
    """An integer drill size from the environment, else the full or smoke default."""
    raw = os.environ.get(name)
    return int(raw) if raw else (smoke if SMOKE else full)


def drill_definition() -> Definition:
    return load_text(DEFINITION_FILE.read_text("utf-8"), str(DEFINITION_FILE), "drill")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Database:
    """One PostgreSQL schema of one drill, migrated; `url` reaches it (search_path in the options)."""

    url: str
    schema: str
    engine: sa.Engine

    def env(self) -> dict[str, str]:
        # The fuzzer sends thousands of calls without a valid token on purpose, and wants their 401s: the
        # per-address limit on such calls (tests/test_auth.py) would answer them 429.
        return {**os.environ, "DATABASE_URL": self.url, "PYTHONUNBUFFERED": "1", "SMTP_HOST": "",
                "API_UNAUTHORIZED_LIMIT": "1000000 per minute"}

    def flask(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `flask --app web ARGS` against this schema, as an operator would."""
        return subprocess.run([*FLASK, *args], cwd=ROOT, env=self.env(), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))


def postgres_url() -> str:
    url = os.environ.get("DRILL_DATABASE_URL") or ""
    for candidate in (os.environ.get("DATABASE_URL", ""), os.environ.get("CI_POSTGRES_URL", ""), DEFAULT_POSTGRES):
        if not url.startswith("postgres"):
            url = candidate
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@contextmanager
def migrated_schema() -> Iterator[Database]:
    """A fresh schema built by the Alembic migrations, dropped afterwards."""
    base = postgres_url()
    admin = sa.create_engine(base)
    schema = f"drill_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:  # fails loudly if PostgreSQL is unreachable
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    engine = sa.create_engine(url)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield Database(url, schema, engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --- HTTP ------------------------------------------------------------------------------------------------

@dataclass
class Answer:
    status: int | None  # None: no answer at all (connection refused, reset, timed out)
    body: Any = None
    error: str | None = None

    @property
    def code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"].get("code")
        return None


def call(port: int, method: str, path: str, token: str | None = None, body: Any = None,
         timeout: float = 30) -> Answer:
    """One request on a fresh connection (gunicorn's sync workers close each one anyway)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, error=f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw[:200].decode("utf-8", "replace")
    return Answer(response.status, parsed)


# --- processes -------------------------------------------------------------------------------------------

class Server:
    """`gunicorn --workers 2 'web:create_app()'` on a loopback port that stays the same across restarts."""

    def __init__(self, db: Database, log: Path, workers: int = 2):
        self.db, self.log, self.workers = db, log, workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(self.workers), "--bind",
                 f"127.0.0.1:{self.port}", "--error-logfile", "-", "web:create_app()"],
                cwd=ROOT, env=self.db.env(), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: master and workers die together
            )
        self.starts += 1
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            if call(self.port, "GET", "/api/v1/openapi.json", timeout=5).status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"gunicorn did not answer within {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the master and its workers at once, as a power cut or the OOM killer would."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:]) if self.log.exists() else ""

    def tracebacks(self) -> list[str]:
        """Unhandled errors and stuck workers the log shows: each is a bug, whatever the client saw."""
        text = self.log.read_text("utf-8", "replace") if self.log.exists() else ""
        return [chunk[:2000] for chunk in text.split("\n[")
                if any(sign in chunk for sign in ("Traceback (most recent call last)", "unhandled error",
                                                  "WORKER TIMEOUT"))]


@dataclass
class Tick:
    now: datetime
    returncode: int
    output: str


class Ticker:
    """The timer worker as `flask workflow tick --now T`, run back to back on a virtual clock.

    `moment()` maps real time to the worker's now: an hour ahead and gaining `speed` seconds per
    second, so that the drill definition's 1 h timers fall due during the run and its 1 h reminders
    repeat. Killing it SIGKILLs the tick under way; the loop then starts the next one, as a
    supervisor would.
    """

    def __init__(self, db: Database, name: str = "drill-tick", speed: float = 600.0, t0: float | None = None):
        self.db, self.name, self.speed = db, name, speed  # name: its PostgreSQL application_name
        self.t0 = time.time() if t0 is None else t0
        self.ticks: list[Tick] = []
        self.kills = 0
        self._current: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ticker", daemon=True)

    def moment(self) -> datetime:
        now = time.time()
        return datetime.fromtimestamp(now, tz=UTC) + timedelta(hours=1, seconds=self.speed * (now - self.t0))

    def tick(self, now: datetime) -> Tick:
        # Small batches: with the default of 100 a tick is one short transaction and the kills would
        # seldom land inside one; this way a tick runs several, and a kill can fall between them too.
        proc = subprocess.Popen([*FLASK, "workflow", "tick", "--now", now.isoformat()], cwd=ROOT,
                                env={**self.db.env(), "PGAPPNAME": self.name, "WORKER_BATCH_SIZE": "5"},
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        with self._lock:
            self._current = proc
        out, _ = proc.communicate(timeout=300)
        with self._lock:
            self._current = None
        result = Tick(now, proc.returncode, out)
        self.ticks.append(result)
        return result

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick(self.moment())

    def start(self) -> None:
        self._thread.start()

    def kill(self) -> bool:
        """SIGKILL the running tick, if one is running; True if one was."""
        with self._lock:
            proc = self._current
            if proc is None or proc.poll() is not None:
                return False
            proc.kill()
            self.kills += 1
            return True

    def running(self) -> bool:
        with self._lock:
            return self._current is not None and self._current.poll() is None

    def stop(self) -> None:
        """Let the tick under way finish, start no other."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=300)

    def stop_now(self) -> None:
        self._stop.set()
        self.kill()
        if self._thread.is_alive():
            self._thread.join(timeout=60)


def kill_ticks_mid_transaction(db: Database, tickers: list[Ticker], within: float) -> tuple[int, int]:
    """SIGKILL each running tick as soon as its database session is inside a transaction (the moments
    that matter: a case half done), or after `within` seconds anyway. Returns (mid-transaction, other)."""
    pending = {t.name: t for t in tickers if t.running()}
    mid = 0
    deadline = time.monotonic() + within
    while pending and time.monotonic() < deadline:
        busy = {r.application_name for r in db.rows(
            "SELECT application_name FROM pg_stat_activity WHERE application_name = ANY(:names) "
            "AND xact_start IS NOT NULL AND state IN ('active', 'idle in transaction')", names=list(pending))}
        for name in busy:
            mid += pending.pop(name).kill()
        for name in [n for n, t in pending.items() if not t.running()]:
            pending.pop(name)  # finished on its own; the next one is not started yet, or just
        time.sleep(0.01)
    other = sum(t.kill() for t in pending.values())
    return mid, other


# --- load ------------------------------------------------------------------------------------------------

@dataclass
class Sent:
    """One request of the load and what came back."""

    kind: str  # "act" | "get" | "open"
    case_id: int | None
    action: str | None
    comment: str | None
    status: int | None
    code: str | None = None
    state: str | None = None
    lock_version: int | None = None
    error: str | None = None


@dataclass
class Load:
    """`clients` threads sending conflicting actions at `cases` until stopped.

    Each client keeps its own (often stale) view of each case: it mostly picks an action that its
    view allows, sometimes any action, and sends its view's lock_version as expected_version about
    half of the time, so both kinds of refusal keep happening. Every action carries a comment unique
    to the request, which is how its history row is found afterwards.
    """

    port: int
    tokens: list[str]
    cases: dict[int, tuple[str, int]]  # id -> (state, lock_version) when the load starts
    definition: Definition
    clients: int
    seed: int
    open_share: float = 0.0  # share of iterations that open a fresh case and move it once (timer cases)
    sent: list[list[Sent]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.actions = sorted(n for n, t in self.definition.transitions.items() if SYSTEM_ROLE not in t.roles)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), name=f"client-{i}", daemon=True)
                         for i in range(self.clients)]
        self.sent = [[] for _ in range(self.clients)]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in self._threads), "a client is stuck"

    def run(self, seconds: float) -> None:
        self.start()
        time.sleep(seconds)
        self.stop()

    def all(self) -> list[Sent]:
        return [s for per_client in self.sent for s in per_client]

    def _client(self, i: int) -> None:
        rng = random.Random(f"{self.seed}-{i}")
        token = self.tokens[i % len(self.tokens)]
        view = dict(self.cases)
        ids = sorted(view)
        log = self.sent[i]
        n = 0
        while not self._stop.is_set():
            n += 1
            comment = f"drill:{i}:{n}"
            if self.open_share and rng.random() < self.open_share:
                self._open_one(rng, token, comment, log)
                continue
            case_id = rng.choice(ids)
            state, lock = view[case_id]
            allowed = [a for a in self.actions if state in self.definition.transitions[a].sources]
            action = rng.choice(allowed) if allowed and rng.random() < 0.75 else rng.choice(self.actions)
            body: dict[str, Any] = {"comment": comment}
            if rng.random() < 0.5:
                body["expected_version"] = lock
            answer = call(self.port, "POST", f"/api/v1/cases/{case_id}/actions/{action}", token, body)
            log.append(self._sent("act", case_id, action, comment, answer))
            if answer.status == 200:
                view[case_id] = (answer.body["state"], answer.body["lock_version"])
            elif answer.status is None:
                time.sleep(0.05)  # the server is down: do not spin
            elif rng.random() < 0.5:
                seen = call(self.port, "GET", f"/api/v1/cases/{case_id}", token)
                log.append(self._sent("get", case_id, None, None, seen))
                if seen.status == 200:
                    view[case_id] = (seen.body["state"], seen.body["lock_version"])

    def _open_one(self, rng: random.Random, token: str, comment: str, log: list[Sent]) -> None:
        """Open a case and park it or send it to review, then leave it to its timers."""
        answer = call(self.port, "POST", "/api/v1/cases", token,
                      {"workflow": "drill", "data": {"note": comment}, "comment": comment})
        log.append(self._sent("open", None, "create", comment, answer))
        if answer.status != 201:
            if answer.status is None:
                time.sleep(0.05)
            return
        case_id = answer.body["id"]
        action = rng.choice(["park", "send"])
        moved = call(self.port, "POST", f"/api/v1/cases/{case_id}/actions/{action}", token,
                     {"comment": comment + ":m", "expected_version": answer.body["lock_version"]})
        log.append(self._sent("act", case_id, action, comment + ":m", moved))

    @staticmethod
    def _sent(kind: str, case_id: int | None, action: str | None, comment: str | None, a: Answer) -> Sent:
        body = a.body if isinstance(a.body, dict) else {}
        if kind == "open" and a.status == 201:
            case_id = body.get("id")
        return Sent(kind, case_id, action, comment, a.status, a.code,
                    body.get("state") if "error" not in body else None,
                    body.get("lock_version") if "error" not in body else None, a.error)


def summary(sent: Iterable[Sent], seconds: float) -> str:
    sent = list(sent)
    counts = Counter((s.kind, s.status, s.code) for s in sent)
    parts = ", ".join(f"{k} {st} {c or ''}".strip() + f": {n}" for (k, st, c), n in sorted(
        counts.items(), key=lambda kv: -kv[1]))
    return f"{len(sent)} requests in {seconds:.0f}s ({len(sent) / max(seconds, 1e-9):.0f}/s): {parts}"


# --- checks ----------------------------------------------------------------------------------------------

@dataclass
class Move:
    case_id: int
    seq: int
    kind: str
    actor: str
    action: str
    from_state: str | None
    to_state: str
    comment: str | None
    at: datetime
    inputs: dict[str, Any]
    moves_so_far: int = 0  # transitions of the case up to and including this one: its lock_version then


def load_history(db: Database) -> dict[int, list[Move]]:
    rows = db.rows("SELECT case_id, seq, kind, actor, action, from_state, to_state, comment, at, inputs "
                   "FROM history ORDER BY case_id, seq")
    by_case: dict[int, list[Move]] = defaultdict(list)
    for r in rows:
        by_case[r.case_id].append(Move(*r))
    for moves in by_case.values():
        count = 0
        for m in moves:
            if m.kind == "transition":
                count += 1
            m.moves_so_far = count
    return by_case


def check_answers(sent: list[Sent], answers_may_be_lost: bool) -> list[str]:
    """Every action was taken (200) or refused with a 409 for its state or version; nothing else."""
    problems = []
    expected = {"act": {200, 409}, "get": {200}, "open": {201}}
    for s in sent:
        if s.status is None:
            if not answers_may_be_lost:
                problems.append(f"no answer to {s.kind} {s.action} on case {s.case_id} ({s.comment}): {s.error}")
            continue
        if s.status not in expected[s.kind]:
            problems.append(f"{s.kind} {s.action} on case {s.case_id} ({s.comment}) answered {s.status} {s.code}")
        elif s.status == 409 and s.code not in REFUSALS:
            problems.append(f"{s.action} on case {s.case_id} ({s.comment}) refused with 409 {s.code}")
    return problems


def check_ledger(sent: list[Sent], history: dict[int, list[Move]]) -> list[str]:
    """Each accepted request is in the history exactly once, as answered; no refused one is; no phantom."""
    problems = []
    by_comment: dict[str, list[Move]] = defaultdict(list)
    for moves in history.values():
        for m in moves:
            if m.comment and m.comment.startswith("drill:"):
                by_comment[m.comment].append(m)
    sent_comments = set()
    for s in sent:
        if s.comment is None:
            continue
        sent_comments.add(s.comment)
        found = by_comment.get(s.comment, [])
        what = f"{s.action} on case {s.case_id} ({s.comment}, answered {s.status})"
        if s.status in (200, 201):
            if len(found) != 1:
                problems.append(f"{what}: {len(found)} history rows, expected exactly 1")
                continue
        elif s.status is None:
            if len(found) > 1:
                problems.append(f"{what}: {len(found)} history rows, expected at most 1")
            if len(found) != 1:
                continue
        else:
            if found:
                problems.append(f"{what}: refused, yet in the history at seq {[m.seq for m in found]}")
            continue
        m = found[0]
        if s.case_id is not None and m.case_id != s.case_id or m.action != s.action:
            problems.append(f"{what}: recorded as {m.action} on case {m.case_id}")
        if s.status is not None and (m.to_state != s.state or m.moves_so_far != s.lock_version):
            problems.append(f"{what}: answered state {s.state} v{s.lock_version}, history says "
                            f"{m.to_state} v{m.moves_so_far} (seq {m.seq})")
    for comment, moves in by_comment.items():
        if comment not in sent_comments:
            problems.append(f"phantom history row {comment!r} on case {moves[0].case_id} seq {moves[0].seq}")
    return problems


def check_cases(db: Database, history: dict[int, list[Move]], definition: Definition) -> list[str]:
    """Each case's history is a legal, gap-free path whose end is the case's state and lock_version."""
    problems = []
    cases = {r.id: r for r in db.rows("SELECT id, state, lock_version FROM cases")}
    for case_id, case in cases.items():
        moves = history.get(case_id, [])
        if [m.seq for m in moves] != list(range(1, len(moves) + 1)):
            problems.append(f"case {case_id}: history seqs are not 1..{len(moves)}")
        transitions = [m for m in moves if m.kind == "transition"]
        if not transitions or transitions[0].action != "create" or transitions[0].from_state is not None:
            problems.append(f"case {case_id}: history does not start with its creation")
            continue
        previous = transitions[0]
        for m in transitions[1:]:
            spec = definition.transitions.get(m.action)
            if spec is None or m.from_state not in spec.sources or m.to_state != spec.dest:
                problems.append(f"case {case_id} seq {m.seq}: {m.action} {m.from_state}->{m.to_state} is no transition")
            elif (m.actor == SYSTEM_ROLE) != (SYSTEM_ROLE in spec.roles):
                problems.append(f"case {case_id} seq {m.seq}: {m.action} taken by {m.actor}")
            if m.from_state != previous.to_state:
                problems.append(f"case {case_id} seq {m.seq}: moved from {m.from_state}, but the previous move "
                                f"(seq {previous.seq}) left it in {previous.to_state}: a lost update")
            previous = m
        for m in moves:
            if m.kind == "notice" and m.from_state != m.to_state:
                problems.append(f"case {case_id} seq {m.seq}: a notice that moves the case")
        if case.state != transitions[-1].to_state:
            problems.append(f"case {case_id}: state {case.state}, last transition row says {transitions[-1].to_state}")
        if case.lock_version != len(transitions):
            problems.append(f"case {case_id}: lock_version {case.lock_version}, {len(transitions)} moves recorded")
    for case_id in set(history) - set(cases):
        problems.append(f"history of case {case_id}, which does not exist")
    return problems


def check_timers(db: Database, history: dict[int, list[Move]], final: datetime) -> list[str]:
    """No timer fired twice, every timer due by `final` fired, and each firing is where it should be.

    `review_deadline` fires `nudge` once per expiry; `chase` records reminder notices, one per
    repeat, numbered 1..repeats; each notification is written once per person per firing.
    """
    problems = []
    timers = db.rows("SELECT id, case_id, name, status, due_at, next_action_at, expired_at, repeats "
                     "FROM timers ORDER BY id")
    by_case: dict[int, list[sa.Row[Any]]] = defaultdict(list)
    for t in timers:
        by_case[t.case_id].append(t)
        if t.status == "running" and t.next_action_at is not None and t.next_action_at <= final:
            problems.append(f"timer {t.id} ({t.name}, case {t.case_id}) was due at {t.next_action_at} and never fired")
        if t.name == "review_deadline" and t.status == "running" and t.due_at <= final and t.expired_at is None:
            problems.append(f"timer {t.id} (case {t.case_id}) was due at {t.due_at} and has not expired")
        if t.name == "chase" and t.status == "running" and t.due_at <= final:
            expected = int((final - t.due_at) / timedelta(hours=1)) + 1
            if t.repeats != expected:
                problems.append(f"timer {t.id} (case {t.case_id}): {t.repeats} reminders by {final}, "
                                f"expected {expected}")
    for case_id in set(by_case) | set(history):
        moves = history.get(case_id, [])
        nudges = sorted(m.at for m in moves if m.action == "nudge")
        expiries = sorted(t.expired_at for t in by_case[case_id] if t.name == "review_deadline" and t.expired_at)
        if nudges != expiries:
            problems.append(f"case {case_id}: review timers expired at {expiries}, nudged at {nudges}")
        notices: dict[tuple[str, datetime], list[int]] = defaultdict(list)
        for m in moves:
            if m.kind == "notice":
                notices[(m.inputs["timer"], datetime.fromisoformat(m.inputs["due_at"]))].append(m.inputs["number"])
        for t in by_case[case_id]:
            numbers = sorted(notices.pop((t.name, t.due_at), []))
            if t.name == "chase" and numbers != list(range(1, t.repeats + 1)):
                problems.append(f"timer {t.id} (case {case_id}): {t.repeats} repeats, reminder notices {numbers}")
        for (name, due), numbers in notices.items():
            problems.append(f"case {case_id}: reminder notices {numbers} of {name} due {due} belong to no timer")
    sent = db.rows("SELECT n.timer_id, n.user_id, n.kind, count(*) AS n, t.repeats FROM notifications n "
                   "JOIN timers t ON t.id = n.timer_id GROUP BY n.timer_id, n.user_id, n.kind, t.repeats")
    for r in sent:
        if r.kind == "reminder" and r.n != r.repeats or r.kind != "reminder" and r.n > 1:
            problems.append(f"timer {r.timer_id}: {r.n} {r.kind} notifications to user {r.user_id} "
                            f"(repeats {r.repeats})")
    return problems


def audit_verify(db: Database) -> list[str]:
    result = db.flask("audit", "verify")
    if result.returncode != 0 or "OK:" not in result.stdout:
        return [f"audit verify failed ({result.returncode}): {result.stdout[-2000:]} {result.stderr[-2000:]}"]
    return []


def report(problems: list[str], limit: int = 30) -> str:
    shown = "\n".join(problems[:limit])
    more = f"\n… and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} problem(s):\n{shown}{more}"
