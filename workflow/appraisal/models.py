"""The appraisal's tables: the staff register, department coefficients, proposed deductions (evidence), the
forced-distribution rule HR sets per department and the department heads whose pay the coefficient sets.

They live on the one declarative `Base` of workflow/models.py, so the schema and its migrations are the same
as when they were declared there; anything that needs the whole metadata (the app, Alembic) imports this
package.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, true
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, UTCDateTime, one_of


class StaffMember(Base):
    """Who works where: the department, score-sheet template, standard pay and supervisor of an employee."""

    __tablename__ = "staff"

    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"), primary_key=True)
    department: Mapped[str] = mapped_column(String(100), index=True)
    template: Mapped[str] = mapped_column(String(80))
    standard_pay: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    supervisor: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class DepartmentCoefficient(Base):
    """The department coefficient of a month in the performance-pay formula (001 §5.1)."""

    __tablename__ = "department_coefficients"

    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    coefficient: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Evidence(Base):
    """A deduction proposed for a person's monthly sheet by another case (a complaint held against them,
    a poor customer rating); their supervisor accepts it, naming the sheet item, or rejects it."""

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_person_period", "person", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person: Mapped[str] = mapped_column(String(80))
    period: Mapped[str] = mapped_column(String(7))
    source_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    source_action: Mapped[str] = mapped_column(String(80))
    reason: Mapped[dict[str, str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(
        one_of("proposed", "accepted", "rejected", name="status", length=10), default="proposed"
    )
    item: Mapped[str | None] = mapped_column(String(80))
    sheet_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DistributionRule(Base):
    """What HR has a department's forced grade distribution do (001 §2.3): `show` the deviation, ask a written
    `reason` for a sheet beyond a grade's share, or `block` it. A department without a row follows the
    definition's default (its `forced_distribution` constant)."""

    __tablename__ = "distribution_rules"

    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    rule: Mapped[str] = mapped_column(one_of("show", "reason", "block", name="rule", length=10))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DepartmentHead(Base):
    """The head of a department and their standard performance pay: the head's month is paid as the
    department coefficient × this pay, outside the staff's pool (001 §5.1)."""

    __tablename__ = "department_heads"

    department: Mapped[str] = mapped_column(String(100), primary_key=True)
    head: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"))
    standard_pay: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    set_by: Mapped[str] = mapped_column(String(80))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
