"""The service slice's API contract: the service targets of a month, the parts closeout lists."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from workflow.closeout.models import OUTCOMES, CloseoutList
from workflow.engine import Clock
from workflow.reports.service_targets import ServiceTargets, check_month

from ..api_models import Label, Time, iso
from ..contract import Answer, Contract

# A month as the path names it: the report's own check words a refusal (422), as it does for the UI.
MonthText = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", max_length=7,
                                 description="YYYY-MM, a month that has ended")]


class MonthPath(Contract):
    month: MonthText
    refusals = {"month": check_month}


class TargetRowOut(Answer):
    key: str
    label: Label
    source: str = Field(description="the clause of the source documents the target comes from")
    comparison: Literal[">=", "<"] = Field(description="the figure must reach (>=) or stay below (<) the target")
    target_pct: str = Field(description="the target in per cent, from the repair-dispatch definition")
    count: int = Field(description="what meets the measure (for the complaint rate: the complaints)")
    total: int = Field(description="what was measured (calls, clocks, rated aspects)")
    figure_pct: str | None = Field(description="count / total in per cent, one decimal; null: nothing measured")
    met: bool | None
    not_measured: Label | None = Field(description="why the month has no figure, when the service cannot tell")


class ServiceTargetsOut(Answer):
    month: str
    rows: list[TargetRowOut]

    @classmethod
    def of(cls, report: ServiceTargets) -> ServiceTargetsOut:
        return cls.model_validate({"month": report.month, "rows": [{
            "key": r.key, "label": r.label, "source": r.source, "comparison": r.comparison,
            "target_pct": str(r.target_pct), "count": r.count, "total": r.total,
            "figure_pct": None if r.figure_pct is None else str(r.figure_pct), "met": r.met,
            "not_measured": r.not_measured} for r in report.rows]})


class CloseoutLineOut(Answer):
    case_id: int
    number: str | None
    part: str
    quantity: int | None
    owed_since: Time
    outcome: str = Field(json_schema_extra={"enum": list(OUTCOMES)})
    penalty_id: int | None = Field(description="the penalty ledger's entry of a breach")


class CloseoutOut(Answer):
    id: int
    drawn_at: Time
    drawn_by: str
    approved_at: Time | None
    approved_by: str | None
    instructed: str | None = Field(description="the person of production the instruction went to")
    grace_until: Time | None
    settled_at: Time | None
    lines: list[CloseoutLineOut]

    @classmethod
    def of(cls, clock: Clock, drawn: CloseoutList, numbers: dict[int, str | None]) -> CloseoutOut:
        return cls.model_validate({
            "id": drawn.id, "drawn_at": iso(clock, drawn.drawn_at), "drawn_by": drawn.drawn_by,
            "approved_at": iso(clock, drawn.approved_at), "approved_by": drawn.approved_by,
            "instructed": drawn.instructed, "grace_until": iso(clock, drawn.grace_until),
            "settled_at": iso(clock, drawn.settled_at),
            "lines": [{"case_id": line.case_id, "number": numbers.get(line.case_id), "part": line.part,
                       "quantity": line.quantity, "owed_since": iso(clock, line.owed_since),
                       "outcome": line.outcome, "penalty_id": line.penalty_id} for line in drawn.lines]})


class CloseoutsOut(Answer):
    items: list[CloseoutOut]


class ApproveCloseout(Contract):
    instructed: str = Field(max_length=80, description="user name of the person of production instructed")
