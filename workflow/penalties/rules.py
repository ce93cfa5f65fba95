"""The penalty rules, with their numbers read from the complaint definition's `constants:` (complaint.yaml):
how a loss is shared, which sanction a personal amount reaches, the monthly cap, and the resale month.

Sources: 003 篇1 客户投诉行政处罚准则 (一), (二), (五) and 客户投诉经济处罚准则 (三)3–4; 002 §4.5 注.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy.orm import Session

from ..definitions import Definition
from ..engine.errors import InvalidInputs
from ..engine.publishing import current_workflow
from .models import CLOSEOUT_BREACH, LOSS_SHARE, MAJOR_DEMERIT, MINOR_DEMERIT, WARNING

COMPLAINT = "complaint"  # the workflow whose constants hold the numbers
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
MAX_PEOPLE = 20  # a joint fault shared by more people than this is not a share any more
# The 50 % cap is the complaint deductions' (经济处罚准则 (三)4); a major demerit is the whole monthly bonus
# by its own rule ((五)3) and a closeout breach is 002's penalty, not a complaint's (choice).
CAPPED_KINDS = frozenset({LOSS_SHARE, WARNING, MINOR_DEMERIT})


@dataclass(frozen=True)
class PenaltyRules:
    warning_amount: Decimal
    minor_demerit_amount: Decimal
    monthly_cap_share: Decimal
    resale_months: int
    closeout_breach_amount: Decimal
    penalty_approver: str
    closeout_breach_approver: str
    penalty_recorder: str
    report_role: str
    report_due_day: int
    report_readers: frozenset[str]

    def approver_for(self, kind: str) -> str:
        """The role that approves an entry of `kind`."""
        return self.closeout_breach_approver if kind == CLOSEOUT_BREACH else self.penalty_approver


def _decimal(constants: Mapping[str, Any], name: str) -> Decimal:
    return Decimal(str(constants[name]))


def rules_of(definition: Definition) -> PenaltyRules:
    """The rules as `definition` (the complaint workflow) states them."""
    c = definition.constants
    return PenaltyRules(
        warning_amount=_decimal(c, "warning_amount"),
        minor_demerit_amount=_decimal(c, "minor_demerit_amount"),
        monthly_cap_share=_decimal(c, "monthly_cap_share"),
        resale_months=int(c["resale_months"]),
        closeout_breach_amount=_decimal(c, "closeout_breach_amount"),
        penalty_approver=str(c["penalty_approver"]),
        closeout_breach_approver=str(c["closeout_breach_approver"]),
        penalty_recorder=str(c["penalty_recorder"]),
        report_role=str(c["report_role"]),
        report_due_day=int(c["report_due_day"]),
        report_readers=frozenset(str(c["report_readers"]).split()),
    )


def complaint_definition(session: Session) -> Definition:
    """The latest published complaint definition (NotFound, a 404, if none is published)."""
    return current_workflow(session, COMPLAINT)[1].definition


def current_rules(session: Session) -> PenaltyRules:
    return rules_of(complaint_definition(session))


def _refuse_shares(en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(en, zh, {"shares": {"en": en, "zh": zh}})


def check_shares(shares: Mapping[str, Decimal]) -> None:
    """Refuse shares that are not a sharing-out of the whole loss: every share above 0 and at most 100 percent,
    together exactly 100 (行政处罚准则 (二): one person's fault is theirs alone, a joint fault by weight)."""
    if not shares or len(shares) > MAX_PEOPLE:
        raise _refuse_shares(f"Give the shares of 1 to {MAX_PEOPLE} people",
                             f"请填写1至{MAX_PEOPLE}名责任人的分摊比例")
    if any(not (0 < s <= HUNDRED) or s != s.quantize(CENT) for s in shares.values()):
        raise _refuse_shares("Each share is a percentage above 0 and at most 100, in hundredths at most",
                             "每人分摊比例须大于0且不超过100（最多两位小数）")
    total = sum(shares.values(), Decimal(0))
    if total != HUNDRED:
        raise _refuse_shares(f"The shares add up to {total} %, not 100 %",
                             f"分摊比例合计为 {total}%，不是 100%")


def split_loss(loss: Decimal, shares: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Each person's part of `loss` by share, in yuan and fen; the rounding remainder goes to the largest share
    (the first such person by name) so that the parts add up to the loss exactly."""
    check_shares(shares)
    parts = {p: (loss * s / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP) for p, s in shares.items()}
    rest = loss.quantize(CENT, rounding=ROUND_HALF_UP) - sum(parts.values(), Decimal(0))
    if rest:
        largest = sorted(shares, key=lambda p: (-shares[p], p))[0]
        parts[largest] += rest
    return parts


def sanction_for(amount: Decimal, bonus: Decimal | None, rules: PenaltyRules) -> str | None:
    """The administrative sanction a personal amount reaches (行政处罚准则 (三), (五)): the whole monthly bonus
    or more a major demerit, from the minor-demerit amount a minor demerit, from the warning amount a warning."""
    if bonus is not None and bonus > 0 and amount >= bonus:
        return MAJOR_DEMERIT
    if amount >= rules.minor_demerit_amount:
        return MINOR_DEMERIT
    if amount >= rules.warning_amount:
        return WARNING
    return None


def monthly_cap(bonus: Decimal, rules: PenaltyRules) -> Decimal:
    """The most deducted from one month's bonus for complaints (经济处罚准则 (三)4)."""
    return (bonus * rules.monthly_cap_share).quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it is shorter)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
