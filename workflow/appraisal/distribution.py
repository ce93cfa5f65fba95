"""The forced grade distribution (强制比例分布, 001 §2.3–§2.4) as HR has it work in each department.

Each grade has a share of the department's month (the definition's `grade_share` table: A 4 %, B 6 %, C 60 %,
D 20 %, E 10 %); a share of the month's sheets rounded up is how many may get that grade. A sheet scored to a
grade that is full already goes beyond it: HR's rule for the department (or the definition's
`forced_distribution` default) then shows the deviation only (`show`), asks the supervisor for a written
reason (`reason`), or refuses the score (`block`). The check runs when the sheet is scored, where its grade is
decided; the department review shows the deviation and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..definitions import Definition
from ..engine.errors import InvalidInputs
from ..engine.limits import check_department
from ..models import Case
from . import scoring
from .models import DistributionRule

RULES = ("show", "reason", "block")
SHARE_TABLE = "grade_share"  # appraisal.yaml `tables:`
DEFAULT_RULE = "forced_distribution"  # appraisal.yaml `constants:`
REASON_FIELD = "distribution_reason"  # the score step's input
Messages = dict[str, str]


def shares(definition: Definition) -> dict[str, Decimal] | None:
    """Each grade's share in percent, by upper-case grade, from the definition; None where it has none."""
    table = definition.tables.get(SHARE_TABLE)
    if table is None:
        return None
    return {str(grade).upper(): Decimal(str(share)) for grade, share in table.rows}


def rule_for(session: Session, definition: Definition, department: str) -> str:
    """HR's rule for the department, else the definition's default, else `show`."""
    row = session.get(DistributionRule, department)
    if row is not None:
        return row.rule
    default = definition.constants.get(DEFAULT_RULE)
    return default if default in RULES else "show"


def set_rule_check(rule: Any) -> None:
    """Refuse, about the `rule` field, anything but one of RULES."""
    if not isinstance(rule, str) or rule not in RULES:
        en, zh = f"must be one of {', '.join(RULES)}", f"须为 {'、'.join(RULES)} 之一"
        raise InvalidInputs(f"The rule {en}", f"规则{zh}", {"rule": {"en": en, "zh": zh}})


def set_rule(session: Session, department: str, rule: str, actor_name: str, at: datetime) -> DistributionRule:
    """Record HR's rule for a department (the caller checks HR may)."""
    department = check_department(department)
    set_rule_check(rule)
    row = session.get(DistributionRule, department) or DistributionRule(department=department)
    row.rule, row.set_by, row.set_at = rule, actor_name, at
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Breach:
    grade: str  # upper case
    share: Decimal  # percent
    allowed: int  # sheets of the month that may have it
    taken: int  # other sheets of the month that have it already
    people: int  # sheets of the month


def _month_sheets(definition: Definition, fields: tuple[str, str], department: str, period: str) -> Any:
    """The conditions that pick the sheets of a department's month (`fields`: the department and month fields)."""
    return (Case.workflow_key == definition.key, Case.data[fields[0]].as_string() == department,
            Case.data[fields[1]].as_string() == period)


def breach(session: Session, definition: Definition, data: dict[str, Any], grade: str) -> Breach | None:
    """Whether scoring this sheet to `grade` goes beyond the grade's share of its department's month."""
    table = shares(definition)
    series, dept_field = definition.series, definition.access.department_field
    if table is None or series is None or dept_field is None or len(series.key) != 1:
        return None
    person_field = series.key[0]
    department, period = data.get(dept_field), data.get(series.period)
    share = table.get(grade.upper())
    if not isinstance(department, str) or not isinstance(period, str) or share is None:
        return None
    where = _month_sheets(definition, (dept_field, series.period), department, period)
    people = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    others = session.scalars(select(Case.data).where(
        *where, Case.data[person_field].as_string() != str(data.get(person_field)))).all()
    taken = sum(1 for d in others if str(d.get("grade") or "").upper() == grade.upper())
    allowed = scoring.grade_ceiling(share, max(people, 1))
    return Breach(grade.upper(), share, allowed, taken, people) if taken + 1 > allowed else None


def explain(found: Breach) -> Messages:
    return {
        "en": f"Grade {found.grade} goes beyond the department's forced distribution: {found.share} % of "
              f"{found.people} sheet(s) allows {found.allowed}, and {found.taken} other sheet(s) have it (001 §2.3)",
        "zh": f"{found.grade}等级超出部门强制比例分布：{found.people}份考核表按{found.share}%最多{found.allowed}份，"
              f"已有{found.taken}份",
    }


def enforce(
    session: Session, definition: Definition, data: dict[str, Any], grade: str, typed_inputs: dict[str, Any]
) -> tuple[dict[str, Messages], dict[str, Any] | None]:
    """Problems by field for a score beyond the distribution as the department's rule has it (none for `show`),
    and what to keep on the sheet about the deviation (None when there is none)."""
    found = breach(session, definition, data, grade)
    if found is None:
        return {}, None
    dept_field = definition.access.department_field
    rule = rule_for(session, definition, str(data.get(dept_field or "", "")))
    message = explain(found)
    kept = {"grade": found.grade, "share": str(found.share), "allowed": found.allowed, "taken": found.taken,
            "people": found.people, "rule": rule}
    if rule == "block":
        return {"sheet": {"en": f"{message['en']}; HR has this department refuse it",
                          "zh": f"{message['zh']}；人力资源部规定本部门不得超出"}}, None
    if rule == "reason" and not typed_inputs.get(REASON_FIELD):
        return {REASON_FIELD: {"en": f"{message['en']}: give a written reason",
                               "zh": f"{message['zh']}，须填写书面理由"}}, None
    return {}, kept
