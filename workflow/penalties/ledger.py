"""The penalty ledger: recording, deciding and reading the penalties of a person's month.

Operations flush and never commit; the request or the command commits once. Every number comes from the
complaint definition (rules.py). A person's month is computed from the approved entries (`month_entries`),
never stored, so it can be recomputed for any month after a correction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..appraisal.models import StaffMember
from ..engine import policy
from ..engine.clock import Clock
from ..engine.errors import InvalidInputs, NotFound, RoleRefused, WrongState
from ..engine.history import TRANSITION
from ..engine.periods import Period, parse_period
from ..engine.users import user_by_name
from ..models import Case, HistoryEntry
from . import rules as penalty_rules
from .models import (
    APPROVED,
    CLOSEOUT_BREACH,
    LOSS_SHARE,
    MAJOR_DEMERIT,
    MINOR_DEMERIT,
    PROPOSED,
    REJECTED,
    SUPERSEDED,
    WARNING,
    PenaltyEntry,
)
from .rules import CAPPED_KINDS, CENT, COMPLAINT, PenaltyRules

MAX_REASON = 500
MAX_AMOUNT = Decimal("100000000")
ADMINISTRATIVE = (WARNING, MINOR_DEMERIT, MAJOR_DEMERIT)


def _invalid(field_name: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(en, zh, {field_name: {"en": en, "zh": zh}})


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise _invalid("reason", f"Give a reason of at most {MAX_REASON} characters",
                       f"请填写原因（最多{MAX_REASON}个字符）")
    return reason


def _check_person(session: Session, person: str) -> str:
    if not person or len(person) > 80 or user_by_name(session, person) is None:
        raise _invalid("person", f"No user {person[:80]!r}", f"没有用户 {person[:80]!r}")
    return person


def bonus_of(session: Session, person: str) -> Decimal | None:
    """The monthly bonus the cap and the major demerit are reckoned on: the staff register's standard pay
    (choice: the sources give no other figure); None for someone not on the register."""
    return session.scalar(select(StaffMember.standard_pay).where(StaffMember.user_name == person))


# -- reading a month ---------------------------------------------------------------------------------


@dataclass
class MonthLedger:
    """A person's month: its entries, and what is deducted from its bonus after the cap and carry-over."""

    person: str
    period: str
    bonus: Decimal | None
    cap: Decimal | None  # None: not on the staff register, so no cap can be reckoned
    entries: list[PenaltyEntry] = field(default_factory=list)  # recorded for this month, any status
    carried_in: Decimal = Decimal(0)  # capped amounts left over from earlier months
    capped_due: Decimal = Decimal(0)  # carried_in plus this month's approved capped entries
    capped_deducted: Decimal = Decimal(0)
    carried_out: Decimal = Decimal(0)
    uncapped: Decimal = Decimal(0)  # approved major demerits and closeout breaches, deducted in full

    @property
    def deducted(self) -> Decimal:
        return self.capped_deducted + self.uncapped


def _approved_by_month(session: Session, person: str, last: str) -> dict[str, list[PenaltyEntry]]:
    rows = session.scalars(select(PenaltyEntry).where(
        PenaltyEntry.person == person, PenaltyEntry.status == APPROVED, PenaltyEntry.period <= last,
    ).order_by(PenaltyEntry.period, PenaltyEntry.id))
    months: dict[str, list[PenaltyEntry]] = {}
    for entry in rows:
        months.setdefault(entry.period, []).append(entry)
    return months


def _months(first: Period, last: Period) -> list[Period]:
    found, month = [], first
    while (month.year, month.month) <= (last.year, last.month):
        found.append(month)
        month = month.next()
    return found


def month_entries(session: Session, person: str, period: str) -> MonthLedger:
    """The person's ledger for `period`: the entries recorded for it, and the deduction once the monthly cap
    has held back what exceeds it and earlier months have carried theirs in (经济处罚准则 (三)4)."""
    month = parse_period(period, "period")
    rules = penalty_rules.current_rules(session)
    bonus = bonus_of(session, person)
    cap = penalty_rules.monthly_cap(bonus, rules) if bonus is not None else None
    ledger = MonthLedger(person, str(month), bonus, cap)
    ledger.entries = list(session.scalars(select(PenaltyEntry).where(
        PenaltyEntry.person == person, PenaltyEntry.period == str(month)).order_by(PenaltyEntry.id)))
    approved = _approved_by_month(session, person, str(month))
    if not approved:
        return ledger
    carried = Decimal(0)
    for m in _months(parse_period(min(approved), "period"), month):
        entries = approved.get(str(m), [])
        due = carried + sum((e.amount for e in entries if e.kind in CAPPED_KINDS), Decimal(0))
        deducted = due if cap is None else min(due, cap)
        if str(m) == str(month):
            ledger.carried_in, ledger.capped_due, ledger.capped_deducted = carried, due, deducted
            ledger.carried_out = due - deducted
            ledger.uncapped = sum((e.amount for e in entries if e.kind not in CAPPED_KINDS), Decimal(0))
        carried = due - deducted
    return ledger


def entries_of_month(session: Session, period: str) -> list[PenaltyEntry]:
    """Every entry recorded for `period`, for finance and the monthly report."""
    month = parse_period(period, "period")
    return list(session.scalars(select(PenaltyEntry).where(PenaltyEntry.period == str(month))
                                .order_by(PenaltyEntry.person, PenaltyEntry.id)))


def entries_of_case(session: Session, case_id: int) -> list[PenaltyEntry]:
    return list(session.scalars(select(PenaltyEntry).where(PenaltyEntry.case_id == case_id)
                                .order_by(PenaltyEntry.id)))


# -- recording ---------------------------------------------------------------------------------------


def _refuse_recording(session: Session, actor: policy.Actor) -> PenaltyRules:
    definition = penalty_rules.complaint_definition(session)
    policy.refuse_read_only(actor)
    if not policy.may_record_penalties(actor, definition):
        role = penalty_rules.rules_of(definition).penalty_recorder
        raise RoleRefused(f"Only the role {role} records penalties", f"只有角色 {role} 可以记录处罚")
    return penalty_rules.rules_of(definition)


def closed_at(session: Session, case: Case) -> datetime | None:
    """When the case last moved into a final state: its closing, read from the history."""
    return session.scalar(select(HistoryEntry.at).where(
        HistoryEntry.case_id == case.id, HistoryEntry.kind == TRANSITION, HistoryEntry.to_state == case.state,
    ).order_by(HistoryEntry.seq.desc()).limit(1))


def _closed_complaint(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None or case.workflow_key != COMPLAINT:
        raise NotFound(f"No complaint {case_id}", f"没有投诉 {case_id}")
    if case.state != "closed":
        raise WrongState("Only a complaint closed as founded has a loss to share",
                         "只有按成立结案的投诉才分摊损失")
    return case


def _loss_of(case: Case, loss_amount: Decimal | None) -> Decimal:
    loss = loss_amount if loss_amount is not None else case.data.get("responsible_loss")
    if loss is None:
        raise _invalid("loss_amount", "Give the loss amount to share", "请填写要分摊的损失金额")
    loss = Decimal(str(loss)).quantize(CENT)
    if not (0 <= loss <= MAX_AMOUNT):
        raise _invalid("loss_amount", f"The loss amount must be from 0 to {MAX_AMOUNT}",
                       f"损失金额须在0至{MAX_AMOUNT}之间")
    return loss


def allocate_loss(
    session: Session, clock: Clock, *, case_id: int, shares: Mapping[str, Decimal], actor: policy.Actor,
    reason: str, loss_amount: Decimal | None = None,
) -> list[PenaltyEntry]:
    """Share a closed complaint's loss among the people at fault (行政处罚准则 (一)–(二)): proposed entries, one
    per person, charged to the month in which the resale month after the closing ends (the loss is final
    then). `loss_amount` replaces the case's responsible loss (goods resold at the A-grade price). A second
    allocation is a correction: the entries it replaces are kept, marked superseded."""
    rules = _refuse_recording(session, actor)
    reason = _check_reason(reason)
    case = _closed_complaint(session, case_id)
    for person in shares:
        _check_person(session, person)
    loss = _loss_of(case, loss_amount)
    parts = penalty_rules.split_loss(loss, shares)
    closed = closed_at(session, case) or clock.now()
    final_on = penalty_rules.add_months(clock.local(closed).date(), rules.resale_months)
    for old in entries_of_case(session, case.id):
        if old.kind == LOSS_SHARE and old.status in (PROPOSED, APPROVED):
            old.status, old.decided_by, old.decided_at = SUPERSEDED, actor.name, clock.now()
    made = [
        PenaltyEntry(person=person, period=f"{final_on.year:04d}-{final_on.month:02d}", kind=LOSS_SHARE,
                     amount=amount, share=Decimal(shares[person]).quantize(CENT), loss_amount=loss, case_id=case.id,
                     reason=reason, status=PROPOSED, final_on=final_on, recorded_by=actor.name,
                     recorded_at=clock.now())
        for person, amount in sorted(parts.items())
    ]
    session.add_all(made)
    session.flush()
    return made


def _administrative_amount(
    session: Session, rules: PenaltyRules, person: str, kind: str, amount: Decimal | None, bases: int,
) -> Decimal:
    """The amount of a warning, minor demerit or major demerit (行政处罚准则 (五)), checked against the cap."""
    bonus = bonus_of(session, person)
    if bonus is None:
        raise _invalid("person", f"{person} is not on the staff register: no monthly bonus to reckon with",
                       f"{person} 不在员工名册中，无法确定月度奖金")
    if kind == MAJOR_DEMERIT:
        return bonus.quantize(CENT)  # the whole monthly bonus, (五)3
    minimum = rules.warning_amount if kind == WARNING else rules.minor_demerit_amount * bases
    amount = (minimum if amount is None else amount).quantize(CENT)
    if amount < minimum:
        raise _invalid("amount", f"A {kind.replace('_', ' ')} costs at least {minimum} yuan",
                       f"{'警告' if kind == WARNING else '小过'}罚扣不少于 {minimum} 元")
    cap = penalty_rules.monthly_cap(bonus, rules)
    if amount > cap:
        raise _invalid("amount", f"{amount} yuan is above the monthly cap of {cap} yuan "
                                 f"({rules.monthly_cap_share * 100:g} % of the month's bonus); share a larger "
                                 "loss as a loss, whose rest is carried to later months",
                       f"{amount} 元超过每月上限 {cap} 元（当月奖金的 {rules.monthly_cap_share * 100:g}%）；"
                       "更大的损失请按损失分摊，超出部分逐月分期罚扣")
    return amount


def record_penalty(
    session: Session, clock: Clock, *, person: str, period: str, kind: str, actor: policy.Actor, reason: str,
    amount: Decimal | None = None, bases: int = 1, case_id: int | None = None,
) -> PenaltyEntry:
    """An administrative penalty (warning, minor demerit, major demerit) on a person's month, proposed."""
    rules = _refuse_recording(session, actor)
    if kind not in ADMINISTRATIVE:
        raise _invalid("kind", f"kind must be one of {', '.join(ADMINISTRATIVE)}",
                       f"处罚种类须为 {'、'.join(ADMINISTRATIVE)} 之一")
    if not 1 <= bases <= 12:
        raise _invalid("bases", "bases must be from 1 to 12", "基数须在1至12之间")
    month = str(parse_period(period, "period"))
    reason = _check_reason(reason)
    _check_person(session, person)
    if case_id is not None and session.get(Case, case_id) is None:
        raise _invalid("case_id", f"No case {case_id}", f"没有案件 {case_id}")
    value = _administrative_amount(session, rules, person, kind, amount, bases)
    entry = PenaltyEntry(person=person, period=month, kind=kind, amount=value, case_id=case_id, reason=reason,
                         status=PROPOSED, recorded_by=actor.name, recorded_at=clock.now())
    session.add(entry)
    session.flush()
    return entry


def record_closeout_breach(
    session: Session, clock: Clock, *, person: str, period: str, reference: str, reason: str,
    recorded_by: str, source_case_id: int | None = None,
) -> PenaltyEntry:
    """One breach of a parts closeout instruction (002 §4.5 注): a proposed entry of the definition's
    `closeout_breach_amount` on the person's month. The same `reference` again returns the entry it made."""
    if not reference or len(reference) > 120:
        raise _invalid("reference", "Give a reference of at most 120 characters", "请填写不超过120个字符的编号")
    existing = session.scalar(select(PenaltyEntry).where(PenaltyEntry.reference == reference))
    if existing is not None:
        return existing
    rules = penalty_rules.current_rules(session)
    month = str(parse_period(period, "period"))
    entry = PenaltyEntry(person=_check_person(session, person), period=month, kind=CLOSEOUT_BREACH,
                         amount=rules.closeout_breach_amount.quantize(CENT), case_id=source_case_id,
                         reference=reference, reason=_check_reason(reason), status=PROPOSED, recorded_by=recorded_by,
                         recorded_at=clock.now())
    session.add(entry)
    session.flush()
    return entry


# -- deciding ----------------------------------------------------------------------------------------


def decide_entry(
    session: Session, clock: Clock, entry_id: int, actor: policy.Actor, approve: bool,
) -> PenaltyEntry:
    """Approve or reject a proposed entry, as the role the definition names for its kind; never one's own
    (four-eyes), and a loss share only once the resale month has made the loss final."""
    entry = session.get(PenaltyEntry, entry_id)
    if entry is None:
        raise NotFound(f"No penalty entry {entry_id}", f"没有处罚记录 {entry_id}")
    definition = penalty_rules.complaint_definition(session)
    policy.refuse_read_only(actor)
    if not policy.may_decide_penalty(actor, definition, entry.kind == CLOSEOUT_BREACH):
        role = penalty_rules.rules_of(definition).approver_for(entry.kind)
        raise RoleRefused(f"Only the role {role} decides this penalty", f"只有角色 {role} 可以审批此处罚")
    if entry.recorded_by == actor.name:
        raise RoleRefused("Someone else must decide a penalty you recorded", "您记录的处罚须由他人审批")
    if entry.status != PROPOSED:
        raise WrongState(f"This penalty is already {entry.status}", f"此处罚已是 {entry.status} 状态")
    today = clock.local(clock.now()).date()
    if approve and entry.final_on is not None and today < entry.final_on:
        raise WrongState(f"The loss is final only after the resale month, on {entry.final_on}",
                         f"转售期满（{entry.final_on}）后损失金额才确定")
    entry.status = APPROVED if approve else REJECTED
    entry.decided_by, entry.decided_at = actor.name, clock.now()
    session.flush()
    return entry

