"""What every benchmark shares: result rows, migrated databases, the clock, actors and walking routes."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.orm import Session

from web import create_app
from web.extensions import db
from workflow.appraisal import set_staff
from workflow.definitions import shipped_files
from workflow.engine import Actor, Clock, advance, get_case, open_case, publish_definition
from workflow.engine.users import create_user, issue_token

from .routes import STAFF, Route

# The benchmarks serve the real app (gunicorn, the memory worker's child), which refuses to start without a
# real secret key; a random one per run will do, inherited by every process the run starts.
os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Row:
    """One line of the table: our figure, the reference it is compared with, and the target for the ratio."""

    bench: str
    measure: str
    ours: float | None
    reference: float | None = None
    unit: str = "ms"
    ratio: float | None = None
    ratio_label: str = ""  # what the ratio means, e.g. "ours/floor"
    target: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pg_url(raw: str | None = None) -> str:
    """A psycopg 3 SQLAlchemy URL for PostgreSQL: --pg, else DATABASE_URL when it is PostgreSQL, else the default."""
    env = os.environ.get("DATABASE_URL", "")
    url = raw or (env if env.startswith("postgres") else DEFAULT_PG)
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _migrate(url: str) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context(), contextlib.redirect_stderr(io.StringIO()):  # alembic logs every step
        upgrade()
        db.engine.dispose()


def sqlite_database(path: Path) -> str:
    """A new SQLite file migrated to head, exactly as `flask db upgrade` makes it; returns its URL."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    _migrate(url)
    return url


@contextlib.contextmanager
def pg_schema(base: str, prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL schema migrated to head, dropped afterwards; yields a URL that uses it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        _migrate(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def service_sessions(engine: sa.Engine) -> Callable[[], Session]:
    """Sessions as the service makes them for a request (web/extensions.py): not expired on commit."""
    return lambda: Session(engine, expire_on_commit=False)


def make_clock() -> Clock:
    """The service's clock with its default settings (time zone, working hours, holidays)."""
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).extensions["workflow_clock"]


def publish_shipped(session: Session, clock: Clock) -> dict[str, int]:
    """Publish every shipped definition as version 1; returns workflow key -> version id."""
    versions = {}
    for f in shipped_files():
        version, _ = publish_definition(session, f.read_text("utf-8"), str(f), "bench", clock.now(), f.stem)
        versions[version.key] = version.id
    return versions


def create_users(session: Session, clock: Clock, roles: set[str]) -> dict[str, str]:
    """One user per role, named after it (as in the tests); returns role -> API token."""
    tokens = {}
    for role in sorted(roles):
        tokens[role] = issue_token(session, create_user(session, role, [role], clock.now()), clock.now(), days=3650)
    for name, department, template, pay, supervisor in STAFF:
        if name in tokens:
            set_staff(session, name, department, template, Decimal(pay), supervisor)
    return tokens


def actor(role: str) -> Actor:
    return Actor(role, frozenset({role}))


def open_cases(session: Session, clock: Clock, route: Route, count: int, start: int = 0) -> list[int]:
    """Open `count` cases of `route`'s workflow (flushed, not committed)."""
    ids = []
    for n in range(start, start + count):
        case = open_case(session, clock, route.workflow, route.opening(n), actor(route.opener))
        ids.append(case.id)
    return ids


def step_once(session_factory: Callable[[], Session], clock: Clock, case_id: int, step: Any) -> None:
    """One durable transition as a request makes it: load the case, advance, commit."""
    with session_factory() as session:
        case = get_case(session, case_id)
        advance(session, clock, case, step.action, actor(step.role), step.inputs)
        session.commit()


class Stopwatch:
    """Collects durations in seconds."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.samples.append(time.perf_counter() - start)

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.samples) * 1000

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (0-100) by the nearest-rank method."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def utcnow() -> datetime:
    return datetime.now(UTC)


def commit_latency(pg: str | None, workdir: Path, commits: int = 200) -> dict[str, float | str]:
    """Median time of a one-row INSERT + COMMIT on PostgreSQL and on a WAL SQLite file: the disk's fsync."""
    import sqlite3

    result: dict[str, float | str] = {}
    path = workdir / f"probe-{uuid.uuid4().hex[:6]}.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE probe (n INTEGER)")
    conn.commit()
    watch = Stopwatch()
    for n in range(commits):
        with watch.timing():
            conn.execute("INSERT INTO probe VALUES (?)", (n,))
            conn.commit()
    conn.close()
    result["sqlite_commit_ms"] = round(watch.median_ms, 3)
    schema = f"bench_probe_{uuid.uuid4().hex[:8]}"
    try:
        import psycopg

        with psycopg.connect(pg_url(pg).replace("postgresql+psycopg://", "postgresql://")) as pgc:
            pgc.execute(f'CREATE SCHEMA "{schema}"')
            pgc.execute(f'CREATE TABLE "{schema}".probe (n integer)')
            pgc.commit()
            watch = Stopwatch()
            for n in range(commits):
                with watch.timing():
                    pgc.execute(f'INSERT INTO "{schema}".probe VALUES (%s)', (n,))
                    pgc.commit()
            pgc.execute(f'DROP SCHEMA "{schema}" CASCADE')
            pgc.commit()
        result["postgresql_commit_ms"] = round(watch.median_ms, 3)
    except Exception as exc:  # reported, not fatal: the PostgreSQL benchmarks say the rest
        result["postgresql_commit_ms"] = f"unavailable: {exc}"
    return result
