"""The penalty ledger's and the monthly complaint report's request and response models (one contract: the
checks, the answers and the OpenAPI document)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from workflow.engine.periods import parse_period
from workflow.penalties.ledger import MonthLedger
from workflow.penalties.models import PenaltyEntry
from workflow.reports.complaints import ComplaintReport

from ..api_models import Period, RowId
from ..contract import Answer, Contract

Person = Annotated[str, Field(min_length=1, max_length=80)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("100000000"), decimal_places=2)]
Share = Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)]


class PeriodPath(Contract):
    period: Period
    refusals = {"period": lambda raw: parse_period(raw, "period")}


class PersonPeriodPath(Contract):
    person: Person
    period: Period
    refusals = {"period": lambda raw: parse_period(raw, "period")}


class ShareIn(Contract):
    person: Person
    share: Share


class AllocateLoss(Contract):
    case_id: RowId
    shares: Annotated[list[ShareIn], Field(min_length=1, max_length=20)]
    reason: Reason
    loss_amount: Amount | None = Field(default=None, description="Replaces the case's loss (resold goods)")


class RecordPenalty(Contract):
    person: Person
    period: Period
    kind: Literal["warning", "minor_demerit", "major_demerit"]
    reason: Reason
    amount: Amount | None = None
    bases: Annotated[int, Field(ge=1, le=12)] = 1
    case_id: RowId | None = None
    refusals = {"period": lambda raw: parse_period(raw, "period")}


class DecideEntry(Contract):
    decision: Literal["approve", "reject"]


class EntryOut(Answer):
    id: int
    person: str
    period: str
    kind: str
    amount: Decimal
    share: Decimal | None
    loss_amount: Decimal | None
    case_id: int | None
    reference: str | None
    reason: str
    status: str
    final_on: date | None
    recorded_by: str
    recorded_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, e: PenaltyEntry) -> EntryOut:
        return cls(id=e.id, person=e.person, period=e.period, kind=e.kind, amount=e.amount, share=e.share,
                   loss_amount=e.loss_amount, case_id=e.case_id, reference=e.reference, reason=e.reason,
                   status=e.status, final_on=e.final_on, recorded_by=e.recorded_by, recorded_at=e.recorded_at,
                   decided_by=e.decided_by, decided_at=e.decided_at)


class EntryList(Answer):
    items: list[EntryOut]


class LedgerOut(Answer):
    person: str
    period: str
    bonus: Decimal | None = Field(description="The staff register's standard pay (the monthly bonus)")
    cap: Decimal | None = Field(description="The most deducted for complaints this month")
    entries: list[EntryOut]
    carried_in: Decimal
    capped_due: Decimal
    capped_deducted: Decimal
    carried_out: Decimal
    uncapped: Decimal
    deducted: Decimal

    @classmethod
    def of(cls, m: MonthLedger) -> LedgerOut:
        return cls(person=m.person, period=m.period, bonus=m.bonus, cap=m.cap,
                   entries=[EntryOut.of(e) for e in m.entries], carried_in=m.carried_in, capped_due=m.capped_due,
                   capped_deducted=m.capped_deducted, carried_out=m.carried_out, uncapped=m.uncapped,
                   deducted=m.deducted)


class ShareOut(Answer):
    person: str
    kind: str
    share: Decimal | None
    amount: Decimal
    status: str
    sanction: str | None = Field(description="warning, minor_demerit or major_demerit the amount reaches")


class ComplaintRowOut(Answer):
    case_id: int
    number: str | None
    customer: str
    market: str
    outcome: str
    registered_at: datetime | None
    closed_at: datetime
    limit_days: int | None
    due_at: datetime | None
    on_time: bool | None
    responsible_department: str | None
    loss_amount: Decimal | None
    responsible_loss: Decimal | None
    improvement_tracked: bool | None
    penalty_kind: str | None
    shares: list[ShareOut]


class DepartmentOut(Answer):
    department: str
    cases: int
    late: int
    responsible_loss: Decimal


class ComplaintReportOut(Answer):
    period: str
    closed: int
    on_time: int
    late: int
    rows: list[ComplaintRowOut]
    departments: list[DepartmentOut]
    digest: str
    due_on: date
    notified_at: datetime | None
    confirmed_by: str | None
    confirmed_at: datetime | None
    changed_since_confirmation: bool

    @classmethod
    def of(cls, r: ComplaintReport) -> ComplaintReportOut:
        from dataclasses import asdict

        return cls.model_validate(asdict(r))
