"""The penalty ledger's tables: one row per penalty on a person's month, and the monthly complaint report's
confirmation by the GM office.

Loss shares, administrative penalties and parts-closeout breaches are records, not free text, so that
finance can post them and the complaint report can be recomputed for any month. They live on the one
declarative `Base` of workflow/models.py.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, UTCDateTime, one_of

LOSS_SHARE, WARNING, MINOR_DEMERIT, MAJOR_DEMERIT, CLOSEOUT_BREACH = (
    "loss_share", "warning", "minor_demerit", "major_demerit", "closeout_breach")
KINDS = (LOSS_SHARE, WARNING, MINOR_DEMERIT, MAJOR_DEMERIT, CLOSEOUT_BREACH)
PROPOSED, APPROVED, REJECTED, SUPERSEDED = "proposed", "approved", "rejected", "superseded"
STATUSES = (PROPOSED, APPROVED, REJECTED, SUPERSEDED)
# What finance and the GM office read (行政处罚准则: 警告, 记小过, 记大过), never the stored codes.
WORDS: dict[str, dict[str, str]] = {
    LOSS_SHARE: {"en": "loss share", "zh": "损失分摊"},
    WARNING: {"en": "warning", "zh": "警告"},
    MINOR_DEMERIT: {"en": "minor demerit", "zh": "记小过"},
    MAJOR_DEMERIT: {"en": "major demerit", "zh": "记大过"},
    CLOSEOUT_BREACH: {"en": "parts closeout breach", "zh": "补件未按期结案"},
    PROPOSED: {"en": "proposed", "zh": "待审批"},
    APPROVED: {"en": "approved", "zh": "已批准"},
    REJECTED: {"en": "rejected", "zh": "已驳回"},
    SUPERSEDED: {"en": "superseded", "zh": "已被更正取代"},
}


class PenaltyEntry(Base):
    """A penalty on a person's month: their share of a complaint's loss, an administrative penalty, or a
    parts-closeout breach. Proposed when recorded; the role the definition names approves or rejects it.
    A corrected loss allocation supersedes the entries it replaces (they stay, marked superseded)."""

    __tablename__ = "penalty_entries"
    __table_args__ = (Index("ix_penalty_entries_person_period", "person", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person: Mapped[str] = mapped_column(ForeignKey("users.name"))
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(one_of(*KINDS, name="kind", length=20))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    share: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))  # percent of the loss, for a loss share
    loss_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # the whole loss that was shared
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # What makes a recorded breach the same breach again (a closeout list and a part): recording it twice
    # must not charge twice.
    reference: Mapped[str | None] = mapped_column(String(120), unique=True)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(one_of(*STATUSES, name="status", length=12), default=PROPOSED)
    final_on: Mapped[date | None] = mapped_column(Date)  # a loss is final after the resale month
    recorded_by: Mapped[str] = mapped_column(String(80))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReportConfirmation(Base):
    """The monthly complaint report of a month: when the GM office was told it is due, and its confirmation
    (with the digest of the figures confirmed, so a later correction shows as a change)."""

    __tablename__ = "complaint_report_confirmations"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(80))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digest: Mapped[str | None] = mapped_column(String(64))
