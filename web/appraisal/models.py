"""The Pydantic models of the appraisal's rules over HTTP (web/appraisal/api.py): the head's pay and the
pool's remainder of a month, the quarter's remainder, a department's year, HR's settings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import Field

from workflow.appraisal import distribution, rules
from workflow.appraisal.operations import MonthView
from workflow.engine import InvalidInputs, WorkflowError
from workflow.engine.limits import check_department

from ..api_models import Department, Label, _text
from ..contract import Answer, Contract

DecimalText = Annotated[str, Field(description="A decimal number as text")]
Year = Annotated[int, Field(ge=1, le=9999, description="A year, YYYY, of the WORKFLOW_YEARS")]
Quarter = Annotated[int, Field(ge=1, le=4, description="A quarter, 1–4")]
UserName = Annotated[str, Field(min_length=1, max_length=80)]


def _amount(raw: Any) -> None:
    try:
        Decimal(str(raw))
    except InvalidOperation:
        raise WorkflowError("standard_pay must be a number", "standard_pay 必须是数字") from None


def _head(raw: Any) -> None:
    if not isinstance(raw, str) or not 1 <= len(raw) <= 80:
        raise InvalidInputs("Name the head by their user name", "请填写部门负责人的用户名",
                            {"head": {"en": "must be a user name (1–80 characters)", "zh": "须为用户名（1–80个字符）"}})


class SetHead(Contract):
    head: UserName
    standard_pay: Annotated[Decimal, Field(allow_inf_nan=True, description=(
        "The head's standard monthly performance pay in yuan, at most 2 decimals"))]
    refusals = {"standard_pay": _amount, "head": _head}


def _rule(raw: Any) -> None:
    distribution.set_rule_check(raw)


class SetDistributionRule(Contract):
    rule: Literal["show", "reason", "block"] = Field(description=(
        "What a sheet beyond a grade's share gets: the deviation shown, a written reason asked, or refused"))
    refusals = {"rule": _rule}


class DepartmentPath(Contract):
    department: Department
    refusals = {"department": check_department}


class YearPath(Contract):
    department: Department
    year: Year
    refusals = {"department": check_department, "year": rules.check_year}


class QuarterPath(Contract):
    department: Department
    year: Year
    quarter: Quarter
    refusals = {"department": check_department, "year": rules.check_year, "quarter": rules.check_quarter}


class HeadOut(Answer):
    head: str
    standard_pay: DecimalText
    pay: DecimalText = Field(description="department coefficient × the head's standard pay (001 §5.1)")


class MonthPay(Answer):
    department: str
    period: str
    coefficient: DecimalText
    head: HeadOut | None
    pool: DecimalText = Field(description="coefficient × the standard pay of the staff scored, the head aside")
    remainder: DecimalText = Field(description="what a coefficient below 1 leaves: paid out once a quarter")
    rule: str = Field(description="HR's forced-distribution rule for the department: show, reason or block")
    allowed: dict[str, int] = Field(description="grade -> sheets of the month that may have it")
    beyond_distribution: dict[str, str] = Field(description="employee -> the written reason for their grade")
    capped: dict[str, DecimalText] = Field(description="employee -> reward points the 100 cap cut")

    @classmethod
    def of(cls, view: MonthView) -> MonthPay:
        head = view.head
        return cls(
            department=view.department, period=view.period, coefficient=str(view.coefficient),
            head=HeadOut(head=head.head, standard_pay=str(head.standard_pay), pay=str(head.pay)) if head else None,
            pool=str(view.pool), remainder=str(view.remainder), rule=view.rule, allowed=view.allowed,
            beyond_distribution={r.employee: r.distribution_reason for r in view.rows if r.distribution_reason},
            capped={r.employee: str(r.capped) for r in view.rows if r.capped},
        )


class QuarterMonth(Answer):
    period: str
    coefficient: DecimalText
    pool: DecimalText
    remainder: DecimalText


class QuarterOut(Answer):
    department: str
    year: int
    quarter: int
    months: list[QuarterMonth]
    remainder: DecimalText = Field(description="the quarter's remainder: the head's adjustment reward to pay out")

    @classmethod
    def of(cls, view: rules.QuarterView) -> QuarterOut:
        return cls(department=view.department, year=view.year, quarter=view.quarter, remainder=str(view.remainder),
                   months=[QuarterMonth(period=m.period, coefficient=str(m.coefficient), pool=str(m.pool),
                                        remainder=str(m.remainder)) for m in view.months])


class Tally(Answer):
    recorded: dict[str, int]
    net: dict[str, int] = Field(description="after offsetting same ranks and turning three into one of the next")
    dismissal: bool


class PersonYearOut(Answer):
    employee: str
    totals: dict[str, DecimalText] = Field(description="month -> total")
    yearly_score: DecimalText | None = Field(description="the mean of the year's monthly totals")
    three_below_in_a_row: bool
    tally: Tally
    consequences: list[Label]


class YearOut(Answer):
    department: str
    year: int
    people: list[PersonYearOut]

    @classmethod
    def of(cls, view: rules.YearView) -> YearOut:
        return cls(department=view.department, year=view.year, people=[PersonYearOut(
            employee=p.employee, totals={m: str(t) for m, t in p.totals.items()}, yearly_score=_text(p.yearly_score),
            three_below_in_a_row=p.three_below_in_a_row,
            tally=Tally(recorded=p.tally.recorded, net=p.tally.net, dismissal=p.tally.dismissal),
            consequences=[Label(**c) for c in p.consequences]) for p in view.people])


class RuleOut(Answer):
    department: str
    rule: str
