"""What a timer says when it warns, expires, repeats or stops late, and to whom.

Reminders 催办单 and inquiries 洽办单 are records: they go into the case's history (kind "notice")
as well as to the people concerned. Warnings and overdue marks are notifications only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..definitions import Definition, TimerSpec
from ..definitions.schema import LATE_HOLDERS, NOTICES, SYSTEM_ROLE, Label
from ..models import Case, HistoryEntry, Timer
from . import history
from .clock import Clock
from .notifications import Pending, holder_roles, notify, notify_many, resolve_roles
from .numbering import case_name


def _when(clock: Clock, moment: datetime) -> str:
    return clock.local(moment).strftime("%Y-%m-%d %H:%M")


def message(clock: Clock, definition: Definition, case: Case, timer: Timer, spec: TimerSpec, kind: str) -> Label:
    state = definition.states[case.state].label
    name, due = case_name(case), _when(clock, timer.due_at)  # provisional until numbered
    if kind == "warning":
        return {"en": f"{name['en']}: '{spec.label['en']}' is due at {due}",
                "zh": f"{name['zh']}：“{spec.label['zh']}”将于 {due} 到期"}
    if kind == "overdue":
        return {"en": f"{name['en']} is overdue: '{spec.label['en']}' was due at {due} (now at {state['en']})",
                "zh": f"{name['zh']} 已超期：“{spec.label['zh']}”应于 {due} 完成（当前：{state['zh']}）"}
    if kind == "reminder":
        return {"en": f"Reminder notice for {name['en']}: '{spec.label['en']}' was due at {due}; "
                      f"it is waiting at {state['en']}",
                "zh": f"催办单 {name['zh']}：“{spec.label['zh']}”应于 {due} 完成，目前停留在“{state['zh']}”"}
    if kind in ("inquiry", "late"):
        return {"en": f"Late-closure inquiry for {name['en']}: '{spec.label['en']}' was due at {due}, "
                      f"stopped at {_when(clock, timer.stopped_at or timer.due_at)}",
                "zh": f"洽办单 {name['zh']}：“{spec.label['zh']}”应于 {due} 完成，"
                      f"实际于 {_when(clock, timer.stopped_at or timer.due_at)} 完成"}
    raise ValueError(kind)


def late_holder_roles(session: Session, definition: Definition, case: Case, since: datetime) -> set[str]:
    """The roles that held the case at any moment after `since`: the departments whose steps ran late."""
    moves = session.execute(
        select(HistoryEntry.at, HistoryEntry.from_state, HistoryEntry.to_state)
        .where(HistoryEntry.case_id == case.id, HistoryEntry.kind == history.TRANSITION)
        .order_by(HistoryEntry.seq)
    ).all()
    held: set[str] = set()
    for at, from_state, _ in moves:
        if at > since and from_state is not None:
            held.add(from_state)  # it was in from_state up to this late move
    current_before = [to for at, _, to in moves if at <= since]
    if current_before:
        held.add(current_before[-1])
    roles: set[str] = set()
    for state in held:
        roles |= holder_roles(definition, state)
    return roles - {SYSTEM_ROLE}


def _roles(session: Session, definition: Definition, case: Case, timer: Timer, spec: TimerSpec, kind: str) -> set[str]:
    if kind in ("inquiry", "late"):
        names = spec.late_notify
        roles = resolve_roles(definition, case, [n for n in names if n != LATE_HOLDERS])
        if LATE_HOLDERS in names:
            roles |= late_holder_roles(session, definition, case, timer.due_at)
        return roles
    return resolve_roles(definition, case, spec.notify)


def _notice(
    clock: Clock, case: Case, timer: Timer, spec: TimerSpec, kind: str, at: datetime, roles: set[str]
) -> dict[str, Any]:
    """The notice's history row, as history.append's (and next_row's) arguments."""
    return {
        "at": at, "actor": SYSTEM_ROLE, "action": kind, "from_state": case.state, "to_state": case.state,
        "inputs": {"timer": spec.name, "due_at": clock.local(timer.due_at).isoformat(),
                   "addressed_to": sorted(roles), "number": timer.repeats + 1 if kind == "reminder" else 1},
        "comment": f"{NOTICES[kind]['zh']} {NOTICES[kind]['en']}", "kind": history.NOTICE,
    }


def announce(
    session: Session, clock: Clock, definition: Definition, case: Case, timer: Timer, spec: TimerSpec,
    kind: str, at: datetime, email: bool = False,
) -> None:
    """Notify the people `kind` concerns and, for a reminder or an inquiry, record it in the history."""
    roles = _roles(session, definition, case, timer, spec, kind)
    text = message(clock, definition, case, timer, spec, kind)
    if kind in NOTICES:
        history.append(session, case, **_notice(clock, case, timer, spec, kind, at, roles))
    # Flushed with whatever the caller flushes next: a move's at its COMMIT.
    notify(session, roles, case=case, kind=kind, message=text, at=at, timer_id=timer.id, email=email, flush=False)


@dataclass
class Batch:
    """What a timer sweep announces, kept until `write` sends it all with a few statements.

    The notices' history rows are chained as they are announced (the Case's chain head moves in memory,
    as history.append moves it), so they hash exactly as appended one by one; only the statements wait.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)  # history rows, in the order announced
    heads: dict[int, tuple[Case, int]] = field(default_factory=dict)  # case id: the case, its last_seq as stored
    notifications: list[Pending] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows or self.notifications)

    def announce(
        self, session: Session, clock: Clock, definition: Definition, case: Case, timer: Timer, spec: TimerSpec,
        kind: str, at: datetime, email: bool = False,
    ) -> None:
        """As `announce`, but written by `write`. The case's row must be locked until then (a sweep's is)."""
        roles = _roles(session, definition, case, timer, spec, kind)
        text = message(clock, definition, case, timer, spec, kind)
        if kind in NOTICES:
            row = history.next_row(case, **_notice(clock, case, timer, spec, kind, at, roles))
            self.heads.setdefault(case.id, (case, case.last_seq))
            self.rows.append(row)
            history.set_head(case, history.head_of(row))
        self.notifications.append(Pending(frozenset(roles), case, kind, text, at, timer.id, email))


def write(session: Session, batch: Batch) -> None:
    """Send what `batch` holds, and empty it: each statement once, with every row (an executemany).

    A batch append to the history (history.append does one row): the chain heads by compare-and-set,
    each case's from its stored head to its last notice's, then the rows; then the notifications.
    """
    if not batch:
        return
    if batch.heads:  # a StaleCase cannot happen to locked cases; the sweep would roll the batch back
        history.append_chained(session, batch.heads, batch.rows)
    notify_many(session, batch.notifications)
    batch.rows, batch.heads, batch.notifications = [], {}, []
