"""JSON API and CSV export of the monthly appraisal: opening a month, the department's view, evidence, and the
rules of 001 §2.3 and §5 (the head's pay, the quarter's remainder, the yearly view, HR's settings)."""

from __future__ import annotations

from decimal import Decimal

from flask import Response, g

from workflow.appraisal import operations, rules
from workflow.engine import policy

from .. import safe_csv
from ..api import bp
from ..api_models import (
    DecideEvidence,
    EvidenceList,
    EvidenceOut,
    Month,
    MonthPath,
    OpenedMonth,
    OpenMonth,
    SetCoefficient,
)
from ..contract import operation
from ..extensions import clock, db_session
from .models import (
    DepartmentPath,
    HeadOut,
    MonthPay,
    QuarterOut,
    QuarterPath,
    RuleOut,
    SetDistributionRule,
    SetHead,
    YearOut,
    YearPath,
)


@bp.post("/appraisal/months")
@operation(answer=OpenedMonth, status=201, body=OpenMonth, errors=(403, 404, 422))
def open_month(json: OpenMonth) -> tuple[OpenedMonth, int]:
    """Open the month's sheets for every employee of a department"""
    result = operations.open_month(db_session(), clock(), json.department, json.period, g.actor)
    db_session().commit()
    return OpenedMonth.model_validate({
        "opened": [{"case_id": c.id, "employee": c.data["employee"]} for c in result.opened],
        "skipped": [{"employee": e, "why": why} for e, why in result.skipped]}), 201


@bp.get("/appraisal/departments/<department>/months/<period>")
@operation(answer=Month, path=MonthPath, errors=(403, 404, 422))
def department_month(department: str, period: str) -> Month:
    """A department's sheets of a month: totals, grades, distribution, performance pay"""
    return Month.of(operations.department_month(db_session(), department, period, g.actor))


@bp.put("/appraisal/departments/<department>/months/<period>/coefficient")
@operation(answer=Month, path=MonthPath, body=SetCoefficient, errors=(403, 404, 422))
def set_coefficient(department: str, period: str, json: SetCoefficient) -> Month:
    """Set the department coefficient of a month (HR)"""
    operations.set_coefficient(db_session(), clock(), department, period, json.coefficient, g.actor)
    db_session().commit()
    return Month.of(operations.department_month(db_session(), department, period, g.actor))


@bp.get("/appraisal/departments/<department>/months/<period>/export.csv")
@operation(path=MonthPath, errors=(403, 404, 422), media="text/csv")
def export_month(department: str, period: str) -> Response:
    """The month's results as CSV"""
    view = operations.department_month(db_session(), department, period, g.actor)
    header = ["员工 employee", "案件 case", "状态 state", "总分 total", "等级 grade", "绩效系数 coefficient",
              "标准绩效工资 standard pay", "绩效工资 performance pay", "须述职 report required"]
    # A missing value is a blank cell; a score of 0 is a score (safe_csv.cell writes None as blank).
    rows = [[r.employee, r.number or r.case_id, r.state, r.total, r.grade, r.pay_coefficient, r.standard_pay,
             r.performance_pay, "yes" if r.performance_report_required else ""] for r in view.rows]
    filename = f"appraisal-{department}-{period}.csv"
    return safe_csv.download([header, *rows], filename)


@bp.get("/cases/<id:case_id>/evidence")
@operation(answer=EvidenceList, errors=(404,))
def list_evidence(case_id: int) -> EvidenceList:
    """Deductions proposed for an appraisal sheet"""
    sheet = policy.visible_case(db_session(), g.actor, case_id)
    return EvidenceList(items=[EvidenceOut.of(e) for e in operations.evidence_for(db_session(), sheet)])


@bp.post("/cases/<id:case_id>/evidence/<id:evidence_id>")
@operation(answer=EvidenceOut, body=DecideEvidence, errors=(403, 404, 409, 422))
def decide_evidence(case_id: int, evidence_id: int, json: DecideEvidence) -> EvidenceOut:
    """Accept (naming the sheet item) or reject a proposed deduction"""
    sheet = policy.visible_case(db_session(), g.actor, case_id)
    evidence = operations.decide_evidence(
        db_session(), clock(), sheet, evidence_id, g.actor, json.decision == "accept", json.item)
    db_session().commit()
    return EvidenceOut.of(evidence)


# -- the rules of 001 §2.3 and §5 (web/appraisal/models.py) ----------------------------------------------------


@bp.get("/appraisal/departments/<department>/months/<period>/pay")
@operation(answer=MonthPay, path=MonthPath, errors=(403, 404, 422))
def appraisal_month_pay(department: str, period: str) -> MonthPay:
    """A month's head pay, pool and remainder, and the forced distribution as HR has it"""
    return MonthPay.of(operations.department_month(db_session(), department, period, g.actor))


@bp.get("/appraisal/departments/<department>/quarters/<int:year>/<int:quarter>")
@operation(answer=QuarterOut, path=QuarterPath, errors=(403, 404, 422))
def appraisal_quarter(department: str, year: int, quarter: int) -> QuarterOut:
    """A quarter's remainder of the department's pool, which the head pays out as an adjustment reward"""
    return QuarterOut.of(rules.department_quarter(db_session(), department, year, quarter, g.actor))


@bp.get("/appraisal/departments/<department>/years/<int:year>")
@operation(answer=YearOut, path=YearPath, errors=(403, 404, 422))
def appraisal_year(department: str, year: int) -> YearOut:
    """Each employee's year: monthly totals, yearly score, rewards and penalties, and their consequences"""
    return YearOut.of(rules.department_year(db_session(), department, year, g.actor))


@bp.put("/appraisal/departments/<department>/head")
@operation(answer=HeadOut, path=DepartmentPath, body=SetHead, errors=(403, 404, 422))
def appraisal_set_head(department: str, json: SetHead) -> HeadOut:
    """Name the department's head and their standard performance pay (HR)"""
    row = operations.set_department_head(db_session(), clock(), department, json.head, json.standard_pay, g.actor)
    db_session().commit()
    head = operations.department_head(db_session(), row.department, Decimal(1))
    assert head is not None
    return HeadOut(head=head.head, standard_pay=str(head.standard_pay), pay=str(head.pay))


@bp.put("/appraisal/departments/<department>/distribution-rule")
@operation(answer=RuleOut, path=DepartmentPath, body=SetDistributionRule, errors=(403, 404, 422))
def appraisal_set_distribution_rule(department: str, json: SetDistributionRule) -> RuleOut:
    """Set what a sheet beyond the forced grade distribution gets in this department (HR)"""
    rule = operations.set_distribution_rule(db_session(), clock(), department, json.rule, g.actor)
    db_session().commit()
    return RuleOut(department=department, rule=rule)
