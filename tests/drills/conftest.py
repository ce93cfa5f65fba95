"""Fixtures of the reliability drills (issue 6): a migrated PostgreSQL schema per drill, the drill
workflow published, users with API tokens, and cleanup of every process a drill started.

The drills run only on PostgreSQL: DRILL_DATABASE_URL, else a postgres DATABASE_URL, else
CI_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test. An unreachable database fails the
drill; it is never a skip.

    DRILL_SECONDS=60 pytest tests/drills -m drill      # full (the default when DRILL_SECONDS is unset)
    DRILL_SECONDS=8 pytest tests/drills -m drill       # CI smoke: fewer clients, kills and examples
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from web import create_app
from web.extensions import db
from workflow.engine import advance, open_case

from .harness import DEFINITION_FILE, DRILLER, Database, Server, Ticker, migrated_schema

_HYPOTHESIS_HOME = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "drill: a reliability drill of issue 6 (PostgreSQL, subprocesses, DRILL_SECONDS long)")
    # Hypothesis (under schemathesis) keeps caches in ./.hypothesis; keep the checkout clean instead.
    if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        from hypothesis.configuration import set_hypothesis_home_dir

        config.stash[_HYPOTHESIS_HOME] = tempfile.mkdtemp(prefix="drill-hypothesis-")
        set_hypothesis_home_dir(config.stash[_HYPOTHESIS_HOME])


def pytest_unconfigure(config: pytest.Config) -> None:
    if home := config.stash.get(_HYPOTHESIS_HOME, None):
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg() -> Iterator[Database]:
    with migrated_schema() as database:
        yield database


@pytest.fixture
def cli(pg: Database) -> Iterator[Callable[..., str]]:
    """Runs a `flask --app web` command in-process against the drill's schema; returns its output."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": pg.url})
    runner = app.test_cli_runner()

    def invoke(*args: str) -> str:
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, (args, result.output, result.exception)
        return str(result.output)

    yield invoke
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def tokens(cli: Callable[..., str]) -> list[str]:
    """The drill workflow published with `workflow load`; four users with both roles, each with a token."""
    cli("workflow", "load", "--by", "drill", str(DEFINITION_FILE))
    found = []
    for i in range(4):
        cli("users", "create", f"drill{i}", "--role", "clerk", "--role", "manager")
        found.append(cli("users", "token", f"drill{i}").strip())
    return found


@pytest.fixture
def open_drill_cases(pg: Database, tokens: list[str]) -> Callable[..., dict[int, tuple[str, int]]]:
    """Opens drill cases through the engine, each moved along `route`; returns id -> (state, lock_version)."""

    def make(count: int, route: tuple[str, ...] = ()) -> dict[int, tuple[str, int]]:
        app = create_app({"SQLALCHEMY_DATABASE_URI": pg.url})
        clock = app.extensions["workflow_clock"]
        made = {}
        with app.app_context():
            for i in range(count):
                case = open_case(db.session, clock, "drill", {"note": f"case {i}"}, DRILLER)
                for action in route:
                    advance(db.session, clock, case, action, DRILLER)
                made[case.id] = (case.state, case.lock_version)
                db.session.commit()
            db.session.remove()
            db.engine.dispose()
        return made

    return make


@pytest.fixture
def seed() -> int:
    """DRILL_SEED replays a run's random choices (the load's timing still differs)."""
    value = int(os.environ.get("DRILL_SEED") or random.randrange(1 << 30))
    print(f"DRILL_SEED={value}")
    return value


class Spawner:
    """Makes the drill's gunicorn and ticker, and stops whatever of them still runs at the end."""

    def __init__(self, db: Database, logs: Path):
        self.db, self.logs = db, logs
        self.made: list[Server | Ticker] = []

    def server(self, **kw: Any) -> Server:
        made = Server(self.db, self.logs / f"gunicorn-{len(self.made)}.log", **kw)
        self.made.append(made)
        return made

    def ticker(self, **kw: Any) -> Ticker:
        made = Ticker(self.db, **kw)
        self.made.append(made)
        return made

    def stop_all(self) -> None:
        for p in reversed(self.made):
            p.stop_now() if isinstance(p, Ticker) else p.stop()


@pytest.fixture
def spawn(pg: Database, tmp_path: Path) -> Iterator[Spawner]:
    spawner = Spawner(pg, tmp_path)
    yield spawner
    spawner.stop_all()
