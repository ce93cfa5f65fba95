"""JSON API and CSV export of the monthly appraisal: opening a month, the department's view, evidence."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from flask import Response, g, jsonify

from workflow.engine import NotFound, RoleRefused, WorkflowError, get_case
from workflow.engine import appraisal as operations
from workflow.engine.appraisal import MonthView

from .api import bp, clock, json_body
from .extensions import db

VIEWERS = {"hr", "dept_head", "supervisor", "auditor"}
PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def _period(period: str) -> str:
    if not PERIOD.fullmatch(period):
        raise NotFound(f"{period!r} is not a month (YYYY-MM)", f"{period!r} 不是月份（YYYY-MM）")
    return period


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
    if not isinstance(department, str) or not isinstance(period, str) or not PERIOD.fullmatch(period):
        raise WorkflowError("Give {\"department\": ..., \"period\": \"YYYY-MM\"}", "请提供部门和月份（YYYY-MM）")
    result = operations.open_month(db.session, clock(), department, period, g.actor)
    db.session.commit()
    return jsonify({"opened": [{"case_id": c.id, "employee": c.data["employee"]} for c in result.opened],
                    "skipped": [{"employee": e, "why": why} for e, why in result.skipped]}), 201


@bp.get("/appraisal/departments/<department>/months/<period>")
def department_month(department: str, period: str) -> Response:
    _require_viewer()
    return jsonify(_month_json(operations.department_month(db.session, department, _period(period))))


@bp.put("/appraisal/departments/<department>/months/<period>/coefficient")
def set_coefficient(department: str, period: str) -> Response:
    body = json_body()
    try:
        coefficient = Decimal(str(body.get("coefficient")))
    except InvalidOperation:
        raise WorkflowError("coefficient must be a number", "coefficient 必须是数字") from None
    operations.set_coefficient(db.session, clock(), department, _period(period), coefficient, g.actor)
    db.session.commit()
    return jsonify(_month_json(operations.department_month(db.session, department, period)))


@bp.get("/appraisal/departments/<department>/months/<period>/export.csv")
def export_month(department: str, period: str) -> Response:
    _require_viewer()
    view = operations.department_month(db.session, department, _period(period))
    out = io.StringIO()
    out.write("\ufeff")  # a byte-order mark, so that Excel opens the Chinese names as UTF-8
    writer = csv.writer(out)
    writer.writerow(["员工 employee", "案件 case", "状态 state", "总分 total", "等级 grade", "绩效系数 coefficient",
                     "标准绩效工资 standard pay", "绩效工资 performance pay", "须述职 report required"])
    def cell(value: Any) -> Any:
        return "" if value is None else value  # a score of 0 is a score, not a blank

    for r in view.rows:
        writer.writerow([r.employee, r.number or r.case_id, r.state, cell(r.total), cell(r.grade),
                         cell(r.pay_coefficient), cell(r.standard_pay), cell(r.performance_pay),
                         "yes" if r.performance_report_required else ""])
    filename = f"appraisal-{department}-{period}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


@bp.get("/cases/<id:case_id>/evidence")
def list_evidence(case_id: int) -> Response:
    sheet = get_case(db.session, case_id)
    return jsonify({"items": [_evidence_json(e) for e in operations.evidence_for(db.session, sheet)]})


@bp.post("/cases/<id:case_id>/evidence/<id:evidence_id>")
def decide_evidence(case_id: int, evidence_id: int) -> Response:
    body = json_body()
    decision = body.get("decision")
    if decision not in ("accept", "reject"):
        raise WorkflowError("decision must be 'accept' or 'reject'", "decision 必须是 accept 或 reject")
    sheet = get_case(db.session, case_id)
    evidence = operations.decide_evidence(
        db.session, clock(), sheet, evidence_id, g.actor, decision == "accept", body.get("item"))
    db.session.commit()
    return jsonify(_evidence_json(evidence))


def _evidence_json(e: Any) -> dict[str, Any]:
    return {"id": e.id, "person": e.person, "period": e.period, "source_case_id": e.source_case_id,
            "source_action": e.source_action, "reason": e.reason, "status": e.status, "item": e.item,
            "decided_by": e.decided_by}


def _require_viewer() -> None:
    if not g.actor.roles & VIEWERS:
        raise RoleRefused("The department's sheets are for HR, department heads, supervisors and auditors",
                          "部门考核结果仅供人力资源部、部门领导、直接主管和审计员查看")

