"""The closeout lists and their lines, on the one declarative `Base` of workflow/models.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..models import Base, UTCDateTime, one_of

# A line's part: still owed when the list was drawn up; after the grace, it arrived or the instruction was
# breached (a penalty entry on the instructed person's ledger).
OWED, ARRIVED, BREACHED = "owed", "arrived", "breached"
OUTCOMES = (OWED, ARRIVED, BREACHED)


class CloseoutList(Base):
    """One closeout round (欠补件明细): drawn up by the lead, approved by the quality director, who sends the
    instruction to a named person in production with its grace; settled once the grace is over."""

    __tablename__ = "closeout_lists"
    __table_args__ = (
        # Approval sets the approver, the person instructed and the grace together, or none of them.
        CheckConstraint(
            "(approved_at IS NULL AND approved_by IS NULL AND instructed IS NULL AND grace_until IS NULL)"
            " OR (approved_at IS NOT NULL AND approved_by IS NOT NULL AND instructed IS NOT NULL"
            " AND grace_until IS NOT NULL)",
            name="approval",
        ),
        CheckConstraint("settled_at IS NULL OR approved_at IS NOT NULL", name="settled_after_approval"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_key: Mapped[str] = mapped_column(String(80))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    drawn_by: Mapped[str] = mapped_column(String(80))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(80))
    instructed: Mapped[str | None] = mapped_column(ForeignKey("users.name"))
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lines: Mapped[list[CloseoutLine]] = relationship(
        back_populates="closeout", cascade="all, delete-orphan", lazy="selectin", order_by="CloseoutLine.id")


class CloseoutLine(Base):
    """A part owed when its list was drawn up: the request it belongs to, and what became of it."""

    __tablename__ = "closeout_lines"
    __table_args__ = (UniqueConstraint("list_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("closeout_lists.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    part: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int | None] = mapped_column(Integer)
    owed_since: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(one_of(*OUTCOMES, name="outcome", length=10), default=OWED)
    penalty_id: Mapped[int | None] = mapped_column(ForeignKey("penalty_entries.id"))
    closeout: Mapped[CloseoutList] = relationship(back_populates="lines")
