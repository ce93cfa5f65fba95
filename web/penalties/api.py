"""JSON API of the penalty ledger and the monthly complaint report, with their CSV exports for finance."""

from __future__ import annotations

from decimal import Decimal

from flask import Response, g

from workflow.engine import policy
from workflow.engine.errors import NotFound
from workflow.penalties import ledger, rules
from workflow.reports import complaints

from .. import safe_csv
from ..api import bp
from ..contract import operation
from ..extensions import clock, db_session
from .models import (
    AllocateLoss,
    ComplaintReportOut,
    DecideEntry,
    EntryList,
    EntryOut,
    LedgerOut,
    PeriodPath,
    PersonPeriodPath,
    RecordPenalty,
)


def _refuse_unless_reader(person: str | None = None) -> None:
    # A ledger someone may not read does not exist for them (404), like a case they may not see.
    if not policy.may_read_penalties(g.actor, rules.complaint_definition(db_session()), person):
        raise NotFound("No such ledger", "没有该处罚台账")


@bp.post("/penalties/allocations")
@operation(answer=EntryList, status=201, body=AllocateLoss, errors=(403, 404, 409, 422))
def allocate_loss_shares(json: AllocateLoss) -> tuple[EntryList, int]:
    """Share a closed complaint's loss among the people at fault (shares add up to 100 %)"""
    shares: dict[str, Decimal] = {}
    for item in json.shares:
        shares[item.person] = shares.get(item.person, Decimal(0)) + item.share
    made = ledger.allocate_loss(db_session(), clock(), case_id=json.case_id, shares=shares, actor=g.actor,
                                reason=json.reason, loss_amount=json.loss_amount)
    db_session().commit()
    return EntryList(items=[EntryOut.of(e) for e in made]), 201


@bp.post("/penalties/entries")
@operation(answer=EntryOut, status=201, body=RecordPenalty, errors=(403, 404, 422))
def record_penalty_entry(json: RecordPenalty) -> tuple[EntryOut, int]:
    """Record an administrative penalty (warning, minor demerit, major demerit) on a person's month"""
    entry = ledger.record_penalty(db_session(), clock(), person=json.person, period=json.period, kind=json.kind,
                                  actor=g.actor, reason=json.reason, amount=json.amount, bases=json.bases,
                                  case_id=json.case_id)
    db_session().commit()
    return EntryOut.of(entry), 201


@bp.post("/penalties/entries/<id:entry_id>")
@operation(answer=EntryOut, body=DecideEntry, errors=(403, 404, 409))
def decide_penalty_entry(entry_id: int, json: DecideEntry) -> EntryOut:
    """Approve or reject a proposed penalty (the role the complaint definition names)"""
    entry = ledger.decide_entry(db_session(), clock(), entry_id, g.actor, json.decision == "approve")
    db_session().commit()
    return EntryOut.of(entry)


@bp.get("/penalties/people/<person>/<period>")
@operation(answer=LedgerOut, path=PersonPeriodPath, errors=(404,))
def penalty_ledger(person: str, period: str) -> LedgerOut:
    """A person's month: entries, the monthly cap and what is carried over"""
    _refuse_unless_reader(person)
    return LedgerOut.of(ledger.month_entries(db_session(), person, period))


LEDGER_HEADER = ["人员 person", "月份 period", "种类 kind", "金额 amount", "比例% share", "损失 loss", "案件 case",
                 "原因 reason", "状态 status", "确定日 final on", "本月扣款 deducted this month",
                 "结转 carried to next month"]


@bp.get("/penalties/months/<period>/export.csv")
@operation(path=PeriodPath, errors=(404, 422), media="text/csv")
def export_penalties(period: str) -> Response:
    """Every penalty of the month, with each person's deduction after the cap, for finance (CSV)"""
    _refuse_unless_reader()
    session = db_session()
    rows: list[list[object]] = []
    months: dict[str, ledger.MonthLedger] = {}
    for e in ledger.entries_of_month(session, period):
        month = months.get(e.person) or months.setdefault(e.person, ledger.month_entries(session, e.person, period))
        rows.append([e.person, e.period, e.kind, e.amount, e.share, e.loss_amount, e.case_id, e.reason, e.status,
                     e.final_on, month.deducted, month.carried_out])
    return safe_csv.download([LEDGER_HEADER, *rows], f"penalties-{period}.csv")


@bp.get("/reports/complaints/<period>")
@operation(answer=ComplaintReportOut, path=PeriodPath, errors=(403, 404, 422))
def complaint_report(period: str) -> ComplaintReportOut:
    """Last month's closed complaints: on time or late against 13/17 days, responsibility, losses, penalties"""
    return ComplaintReportOut.of(complaints.complaint_report(db_session(), clock(), period, g.actor))


@bp.post("/reports/complaints/<period>/confirmation")
@operation(answer=ComplaintReportOut, path=PeriodPath, errors=(403, 404, 409, 422))
def confirm_complaint_report(period: str) -> ComplaintReportOut:
    """The GM office confirms the month's complaint report (due by the 10th)"""
    report = complaints.confirm_report(db_session(), clock(), period, g.actor)
    db_session().commit()
    return ComplaintReportOut.of(report)


REPORT_HEADER = ["编号 number", "客户 customer", "市场 market", "结果 outcome", "登记 registered", "结案 closed",
                 "期限(天) limit days", "准时 on time", "责任部门 department", "损失 loss", "责任损失 responsible loss",
                 "改善追踪 tracked", "惩处 penalty", "责任人 person", "比例% share", "金额 amount", "处分 sanction"]


def report_rows(report: complaints.ComplaintReport) -> list[list[object]]:
    rows: list[list[object]] = []
    for r in report.rows:
        head: list[object] = [r.number, r.customer, r.market, r.outcome, r.registered_at, r.closed_at, r.limit_days,
                "" if r.on_time is None else ("yes" if r.on_time else "late"), r.responsible_department,
                r.loss_amount, r.responsible_loss, r.improvement_tracked, r.penalty_kind]
        shares: list[list[object]] = [[s.person, s.share, s.amount, s.sanction] for s in r.shares]
        for share in shares or [["", "", "", ""]]:
            rows.append(head + share)
    return rows


@bp.get("/reports/complaints/<period>/export.csv")
@operation(path=PeriodPath, errors=(403, 404, 422), media="text/csv")
def export_complaint_report(period: str) -> Response:
    """The month's complaint report as CSV"""
    report = complaints.complaint_report(db_session(), clock(), period, g.actor)
    return safe_csv.download([REPORT_HEADER, *report_rows(report)], f"complaints-{report.period}.csv")
