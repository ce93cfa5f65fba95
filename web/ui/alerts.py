"""The notifications shown in the header, from `workflow.engine.notifications` when the engine has it."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from workflow.engine import Clock

notifications: ModuleType | None
try:
    from workflow.engine import notifications
except ImportError:  # an engine without notifications: the header shows none
    notifications = None


@dataclass
class Alert:
    id: int
    case_id: int | None
    kind: str
    message: dict[str, str]
    created_at: datetime
    unread: bool


def for_user(session: Session, user_name: str, limit: int = 10) -> list[Alert]:
    if notifications is None:
        return []
    return [
        Alert(n.id, n.case_id, n.kind, n.message, n.created_at, n.read_at is None)
        for n in notifications.for_user(session, user_name, limit=limit)
    ]


def mark_read(session: Session, clock: Clock, user_name: str, notification_id: int) -> None:
    if notifications is None:
        return
    kwargs: dict[str, Any] = {}
    if "at" in inspect.signature(notifications.mark_read).parameters:
        kwargs["at"] = clock.now()
    notifications.mark_read(session, user_name, notification_id, **kwargs)
