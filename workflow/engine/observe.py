"""What the engine lets others watch: moves, refusals and timer sweeps, as plain callbacks.

The engine knows nothing of who watches (web/metrics.py counts for Prometheus): it calls `moved`, `refused`
and `swept`, and whoever registered with `on_move`, `on_refusal` or `on_sweep` hears of it. A move is told
once its transaction commits, as the engine never commits itself and a rolled-back move did not happen. A
callback that fails is logged and never fails the step or the sweep it reports.

`figures` answers what is read at a scrape rather than counted: overdue cases per workflow and how far the
timer sweep is behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, SessionTransaction, scoped_session

from ..models import Case, Timer, WorkflowVersion

MoveCallback = Callable[[str, str], None]  # (workflow key, action)
RefusalCallback = Callable[[str], None]  # (refusal code, one of refusals.CODES)
SweepCallback = Callable[[float, int], None]  # (seconds the sweep took, cases it handled)

_log = logging.getLogger(__name__)
_PENDING = "workflow.observe.moves"  # key in Session.info: the moves of the open transaction
_moves: list[MoveCallback] = []
_refusals: list[RefusalCallback] = []
_sweeps: list[SweepCallback] = []

F = TypeVar("F", bound=Callable[..., None])


def _register(callbacks: list[F], callback: F) -> F:
    if callback not in callbacks:  # an app factory that runs twice (tests) must not count twice
        callbacks.append(callback)
    return callback


def on_move(callback: MoveCallback) -> MoveCallback:
    return _register(_moves, callback)


def on_refusal(callback: RefusalCallback) -> RefusalCallback:
    return _register(_refusals, callback)


def on_sweep(callback: SweepCallback) -> SweepCallback:
    return _register(_sweeps, callback)


def _tell(callbacks: list[F], *args: Any) -> None:
    for callback in callbacks:
        try:
            callback(*args)
        except Exception:  # watching must never change what is watched
            _log.exception("observer %r failed", callback)


def moved(session: Session, workflow: str, action: str) -> None:
    """A case of `workflow` took `action` in `session`'s transaction; told on its commit."""
    if _moves:
        if isinstance(session, scoped_session):  # the web's request session: its events name the real one
            session = session()
        # The innermost transaction: a SAVEPOINT rolled back (the timer worker's failed case) takes its moves along.
        within = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING, []).append((within, workflow, action))


def refused(code: str) -> None:
    _tell(_refusals, code)


def swept(seconds: float, cases: int) -> None:
    _tell(_sweeps, seconds, cases)


@event.listens_for(Session, "after_commit")  # the outermost transaction only
def _committed(session: Session) -> None:
    for _, workflow, action in session.info.pop(_PENDING, ()):
        _tell(_moves, workflow, action)


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")  # any transaction, SAVEPOINTs too
def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    if pending := session.info.get(_PENDING):
        session.info[_PENDING] = [move for move in pending if not _inside(move[0], previous)]


@dataclass(frozen=True)
class Figures:
    overdue: dict[str, int]  # workflow key -> open cases with an overdue timer; 0 for every published workflow
    sweep_lag: timedelta  # now minus the oldest moment the timer sweep has not handled yet; 0 when none waits


def figures(session: Session, now: datetime) -> Figures:
    """Overdue cases per workflow (one grouped query) and the timer sweep's lag (one query on its index)."""
    from .worklists import overdue  # here: worklists imports cases, which imports this module

    counts: dict[str, int] = {key: count for key, count in session.execute(
        select(Case.workflow_key, func.count()).where(overdue(session, now)).group_by(Case.workflow_key)
    )}
    keys = session.scalars(select(WorkflowVersion.key).distinct())
    oldest = session.scalar(select(func.min(Timer.next_action_at)).where(
        Timer.status == "running", Timer.next_action_at.is_not(None), Timer.next_action_at <= now,
    ))
    return Figures(
        overdue={key: counts.get(key, 0) for key in sorted({*keys, *counts})},
        sweep_lag=max(now - oldest, timedelta(0)) if oldest is not None else timedelta(0),
    )
