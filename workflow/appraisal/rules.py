"""The appraisal's rules beyond one month (001 §5): the quarter's remainder of a department's pool, and the
year of each employee with its consequences.

- 001 §5.1: at a department coefficient below 1 the pool leaves a remainder (ΣS − coefficient × ΣS), which the
  head pays out once a quarter as an adjustment reward (由主管每季度作为调节奖励发放一次).
- 001 §5.4–§5.5: a yearly score below 60 → performance report (述职) and a review of the post; three monthly
  totals below 60 in a row within a year → unqualified (不合格): change of post or dismissal; three years in a
  row at 90 or more → promotion may be considered (the view shows the year's part of it).
- 001 奖惩细则 第八条: the year's rewards and penalties, offset and counted up; three major demerits → dismissal.
The thresholds are the definition's constants (appraisal.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..engine.errors import InvalidInputs, RoleRefused
from ..engine.limits import check_department
from ..engine.periods import InvalidPeriod, parse_period
from ..engine.policy import Actor, may_read_department
from ..models import Case
from . import scoring
from .operations import DEPARTMENT, EMPLOYEE, PERIOD, WORKFLOW, MonthView, definition, department_month

Messages = dict[str, str]
QUARTERS = (1, 2, 3, 4)


def check_year(raw: Any) -> int:
    """A year the service keeps months of (the month parser's bounds), or a 422 naming `year`."""
    try:
        return parse_period(f"{raw}-01", "year").year
    except InvalidPeriod:
        shown = repr(raw)[:20]
        raise InvalidInputs(f"{shown} is no year the service keeps", f"{shown} 不是有效年份",
                            {"year": {"en": "must be a year (YYYY)", "zh": "须为年份（YYYY）"}}) from None


def check_quarter(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw not in QUARTERS:
        raise InvalidInputs(f"{raw!r} is no quarter", f"{raw!r} 不是季度",
                            {"quarter": {"en": "must be 1, 2, 3 or 4", "zh": "须为1、2、3或4"}})
    return raw


@dataclass(frozen=True)
class QuarterView:
    department: str
    year: int
    quarter: int
    months: tuple[MonthView, ...]
    remainder: Decimal  # the sum of the months' remainders: the head's adjustment reward to pay out


def department_quarter(session: Session, department: str, year: Any, quarter: Any, actor: Actor) -> QuarterView:
    """A department's quarter: each month's pool and remainder, and the remainder to pay out (001 §5.1)."""
    department, year, quarter = check_department(department), check_year(year), check_quarter(quarter)
    months = tuple(department_month(session, department, f"{year}-{m:02d}", actor)
                   for m in range(3 * quarter - 2, 3 * quarter + 1))
    return QuarterView(department, year, quarter, months, sum((m.remainder for m in months), Decimal("0.00")))


@dataclass(frozen=True)
class PersonYear:
    employee: str
    totals: dict[str, Decimal]  # month (YYYY-MM) -> total of each scored sheet
    yearly_score: Decimal | None
    three_below_in_a_row: bool
    tally: scoring.YearTally
    consequences: tuple[Messages, ...]


@dataclass(frozen=True)
class YearView:
    department: str
    year: int
    people: tuple[PersonYear, ...]


def _consequences(k: dict[str, Any], score: Decimal | None, in_a_row: bool,
                  tally: scoring.YearTally) -> tuple[Messages, ...]:
    found: list[Messages] = []
    if score is not None and score < Decimal(str(k.get("yearly_pass_mark", 60))):
        found.append({"en": "Yearly score below 60: performance report (述职); HR reviews the post (001 §5.4)",
                      "zh": "年度综合评价低于60分：须述职，人力资源部调整职位或降职（001 §5.4）"})
    if in_a_row:
        found.append({"en": "Three monthly scores below 60 in a row: unqualified, change of post or dismissal "
                            "(001 §5.4)",
                      "zh": "一年内月度考核连续三次低于60分：视为不合格，换岗或辞退（001 §5.4）"})
    if tally.dismissal:
        found.append({"en": "Three major demerits in the year: dismissal (奖惩细则 第八条 (四))",
                      "zh": "全年度累计三次大过：解雇（奖惩细则 第八条（四））"})
    if score is not None and score >= Decimal(str(k.get("yearly_outstanding", 90))):
        found.append({"en": "Yearly score of 90 or more: counts towards promotion after three such years (001 §5.4)",
                      "zh": "年度综合评价90分以上：连续三年可考虑晋升（001 §5.4）"})
    return tuple(found)


def _person_year(k: dict[str, Any], employee: str, sheets: list[Case]) -> PersonYear:
    scored = [c for c in sheets if c.data.get("total_score") is not None]
    totals = {c.data[PERIOD]: Decimal(c.data["total_score"]) for c in scored}
    score = scoring.yearly_score(totals.values())
    adjustments = [a for c in scored for a in ((c.data.get("sheet") or {}).get("adjustments") or ())]
    tally = scoring.year_tally(adjustments, int(k.get("demerits_per_major_demerit", 3)),
                               int(k.get("major_demerits_for_dismissal", 3)))
    # Months in order: a month without a scored sheet breaks a run (the run counts consecutive sheets).
    in_a_row = scoring.needs_performance_report(totals[m] for m in sorted(totals))
    return PersonYear(employee, totals, score, in_a_row, tally, _consequences(k, score, in_a_row, tally))


def department_year(session: Session, department: str, year: Any, actor: Actor) -> YearView:
    """Each employee's year in a department: monthly totals, yearly score, rewards and penalties, consequences."""
    department, year = check_department(department), check_year(year)
    current = definition(session)
    if not may_read_department(session, actor, current, department):
        raise RoleRefused("A department's appraisal year is for HR, its department head and auditors",
                          "部门年度考核结果仅供人力资源部、本部门领导和审计员查看")
    cases = session.scalars(
        select(Case).where(
            Case.workflow_key == WORKFLOW, Case.data[DEPARTMENT].as_string() == department,
            Case.data[PERIOD].as_string().like(f"{year}-%"),
        ).order_by(Case.id)
    ).all()
    by_person: dict[str, list[Case]] = {}
    for case in cases:
        by_person.setdefault(case.data[EMPLOYEE], []).append(case)
    people = tuple(_person_year(current.constants, name, by_person[name]) for name in sorted(by_person))
    return YearView(department, year, people)
