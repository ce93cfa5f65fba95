"""JSON API and CSV of the service rules: a month's service targets, the parts closeout lists."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Response, g
from sqlalchemy import select

import workflow.closeout  # noqa: F401  (its tables on the metadata)
from workflow.closeout import operations as closeout
from workflow.closeout.models import CloseoutList
from workflow.models import Case
from workflow.reports import service_targets as targets

from .. import safe_csv
from ..api import bp
from ..contract import operation
from ..extensions import clock, db_session
from .models import ApproveCloseout, CloseoutOut, CloseoutsOut, MonthPath, ServiceTargetsOut


@bp.get("/reports/service-targets/<month>")
@operation(answer=ServiceTargetsOut, path=MonthPath, errors=(403, 404, 422))
def service_targets(month: str) -> ServiceTargetsOut:
    """A month's service targets and the figures computed from the history (the month must have ended)"""
    return ServiceTargetsOut.of(targets.service_targets(db_session(), clock(), month, g.actor))


def _percent(value: object) -> str:
    return "" if value is None else f"{value} %"


def targets_csv_rows(report: targets.ServiceTargets) -> list[list[object]]:
    header: list[object] = ["目标 target", "依据 source", "目标值 target %", "达成数 count", "总数 total",
                            "实际 figure %", "达成 met", "说明 note"]
    rows: list[list[object]] = [header]
    for r in report.rows:
        met = "" if r.met is None else ("yes 是" if r.met else "no 否")
        note = f"{r.not_measured['en']} / {r.not_measured['zh']}" if r.not_measured else ""
        rows.append([f"{r.label['en']} / {r.label['zh']}", r.source, f"{r.comparison} {r.target_pct}",
                     r.count, r.total, _percent(r.figure_pct), met, note])
    return rows


@bp.get("/reports/service-targets/<month>/export.csv")
@operation(path=MonthPath, errors=(403, 404, 422), media="text/csv")
def export_service_targets(month: str) -> Response:
    """A month's service targets as CSV"""
    report = targets.service_targets(db_session(), clock(), month, g.actor)
    filename = f"service-targets-{report.month}.csv"
    return safe_csv.download(targets_csv_rows(report), filename)


def closeout_answer(lists: Sequence[CloseoutList]) -> list[CloseoutOut]:
    ids = {line.case_id for drawn in lists for line in drawn.lines}
    found = db_session().execute(select(Case.id, Case.number).where(Case.id.in_(ids)))
    numbers: dict[int, str | None] = {case_id: number for case_id, number in found}
    return [CloseoutOut.of(clock(), drawn, numbers) for drawn in lists]


@bp.get("/closeouts")
@operation(answer=CloseoutsOut, errors=(403, 404))
def list_closeouts() -> CloseoutsOut:
    """The latest parts closeout lists, newest first (002 §4.5)"""
    return CloseoutsOut(items=closeout_answer(closeout.recent_lists(db_session(), g.actor)))


@bp.post("/closeouts")
@operation(answer=CloseoutOut, status=201, errors=(403, 404, 409))
def draw_up_closeout() -> tuple[CloseoutOut, int]:
    """Draw up this cycle's list of every part still owed (the service lead; once per 15 days)"""
    drawn = closeout.draw_up(db_session(), clock(), g.actor)
    db_session().commit()
    return closeout_answer([drawn])[0], 201


@bp.get("/closeouts/<id:list_id>")
@operation(answer=CloseoutOut, errors=(403, 404))
def show_closeout(list_id: int) -> CloseoutOut:
    """One closeout list and what became of each part"""
    return closeout_answer([closeout.get_list(db_session(), g.actor, list_id)])[0]


@bp.post("/closeouts/<id:list_id>/approve")
@operation(answer=CloseoutOut, body=ApproveCloseout, errors=(403, 404, 409, 422))
def approve_closeout(list_id: int, json: ApproveCloseout) -> CloseoutOut:
    """Approve a list and send the instruction to a person of production, with the grace (quality director)"""
    drawn = closeout.approve(db_session(), clock(), g.actor, list_id, json.instructed)
    db_session().commit()
    return closeout_answer([drawn])[0]
