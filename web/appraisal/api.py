"""JSON API and CSV export of the monthly appraisal: opening a month, the department's view, evidence."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from flask import Response, g, jsonify

from workflow.engine import WorkflowError, policy
from workflow.engine import appraisal as operations
from workflow.engine.appraisal import MonthView
from workflow.engine.periods import parse_period

from .. import safe_csv
from ..api import bp, clock, json_body
from ..extensions import db


def _period(period: str) -> str:
    return str(parse_period(period))


def _month_json(view: MonthView) -> dict[str, Any]:
    def number(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "department": view.department, "period": view.period, "coefficient": str(view.coefficient),
        "sheets": [{
            "employee": r.employee, "case_id": r.case_id, "number": r.number, "state": r.state,
            "total": number(r.total), "grade": r.grade, "pay_coefficient": number(r.pay_coefficient),
            "standard_pay": number(r.standard_pay), "performance_pay": number(r.performance_pay),
            "performance_report_required": r.performance_report_required,
            "interview_recorded": r.interview_recorded,
        } for r in view.rows],
        "distribution": {grade: {"count": s.count, "share": str(s.share), "guideline": str(s.guideline),
                                 "deviation": str(s.deviation), "expected": str(s.expected)}
                         for grade, s in view.distribution.items()},
    }


@bp.post("/appraisal/months")
def open_month() -> tuple[Response, int]:
    body = json_body()
    department, period = body.get("department"), body.get("period")
    if department is None or period is None:
        raise WorkflowError("Give {\"department\": ..., \"period\": \"YYYY-MM\"}", "请提供部门和月份（YYYY-MM）")
    result = operations.open_month(db.session, clock(), department, period, g.actor)
    db.session.commit()
    return jsonify({"opened": [{"case_id": c.id, "employee": c.data["employee"]} for c in result.opened],
                    "skipped": [{"employee": e, "why": why} for e, why in result.skipped]}), 201


@bp.get("/appraisal/departments/<department>/months/<period>")
def department_month(department: str, period: str) -> Response:
    return jsonify(_month_json(operations.department_month(db.session, department, _period(period), g.actor)))


@bp.put("/appraisal/departments/<department>/months/<period>/coefficient")
def set_coefficient(department: str, period: str) -> Response:
    body = json_body()
    try:
        coefficient = Decimal(str(body.get("coefficient")))
    except InvalidOperation:
        raise WorkflowError("coefficient must be a number", "coefficient 必须是数字") from None
    operations.set_coefficient(db.session, clock(), department, _period(period), coefficient, g.actor)
    db.session.commit()
    return jsonify(_month_json(operations.department_month(db.session, department, period, g.actor)))


@bp.get("/appraisal/departments/<department>/months/<period>/export.csv")
def export_month(department: str, period: str) -> Response:
    view = operations.department_month(db.session, department, _period(period), g.actor)
    header = ["员工 employee", "案件 case", "状态 state", "总分 total", "等级 grade", "绩效系数 coefficient",
              "标准绩效工资 standard pay", "绩效工资 performance pay", "须述职 report required"]
    # A missing value is a blank cell; a score of 0 is a score (safe_csv.cell writes None as blank).
    rows = [[r.employee, r.number or r.case_id, r.state, r.total, r.grade, r.pay_coefficient, r.standard_pay,
             r.performance_pay, "yes" if r.performance_report_required else ""] for r in view.rows]
    filename = f"appraisal-{department}-{period}.csv"
    return Response(safe_csv.to_text([header, *rows], bom=True), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


@bp.get("/cases/<id:case_id>/evidence")
def list_evidence(case_id: int) -> Response:
    sheet = policy.visible_case(db.session, g.actor, case_id)
    return jsonify({"items": [_evidence_json(e) for e in operations.evidence_for(db.session, sheet)]})


@bp.post("/cases/<id:case_id>/evidence/<id:evidence_id>")
def decide_evidence(case_id: int, evidence_id: int) -> Response:
    body = json_body()
    decision = body.get("decision")
    if decision not in ("accept", "reject"):
        raise WorkflowError("decision must be 'accept' or 'reject'", "decision 必须是 accept 或 reject")
    sheet = policy.visible_case(db.session, g.actor, case_id)
    evidence = operations.decide_evidence(
        db.session, clock(), sheet, evidence_id, g.actor, decision == "accept", body.get("item"))
    db.session.commit()
    return jsonify(_evidence_json(evidence))


def _evidence_json(e: Any) -> dict[str, Any]:
    return {"id": e.id, "person": e.person, "period": e.period, "source_case_id": e.source_case_id,
            "source_action": e.source_action, "reason": e.reason, "status": e.status, "item": e.item,
            "decided_by": e.decided_by}
