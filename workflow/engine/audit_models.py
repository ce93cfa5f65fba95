"""The auditors' workspace's own tables, on the shared `Base`, and the indexes its search needs on history.

`audit_runs` keeps the outcome of each full verification (`flask audit verify`, or the periodic one), so the
audit area can say when the chains were last proven and what broke. `audit_access` records every look an
auditor takes at a case, a replay or an export: both are append-only, like the history they watch over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, HistoryEntry, UTCDateTime, one_of

ACCESS_KINDS = ("case", "replay", "export", "search")

_HISTORY: Table = HistoryEntry.__table__  # type: ignore[assignment]
# The search walks history in (at, id) order and stops after one page (keyset pagination); by actor or by
# action it walks that actor's or action's rows only, so page 1,000 costs what page 1 does.
Index("ix_history_at_id", _HISTORY.c.at, _HISTORY.c.id)
Index("ix_history_actor_at_id", _HISTORY.c.actor, _HISTORY.c.at, _HISTORY.c.id)
Index("ix_history_action_at_id", _HISTORY.c.action, _HISTORY.c.at, _HISTORY.c.id)


class AuditRun(Base):
    """One full verification of every chain: when, how many cases, and the first break if any."""

    __tablename__ = "audit_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    run_by: Mapped[str] = mapped_column(String(80))
    cases_checked: Mapped[int] = mapped_column(Integer)
    breaks: Mapped[int] = mapped_column(Integer)
    first_case_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: the case may be what vanished
    first_seq: Mapped[int | None] = mapped_column(Integer)
    first_reason: Mapped[str | None] = mapped_column(String(500))


class AuditAccess(Base):
    """One look by an auditor: who, at what (a case, its replay, an export or a search), when."""

    __tablename__ = "audit_access"
    __table_args__ = (Index("ix_audit_access_at_id", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    kind: Mapped[str] = mapped_column(one_of(*ACCESS_KINDS, name="kind", length=20))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    detail: Mapped[str] = mapped_column(String(1000), default="", server_default="")
