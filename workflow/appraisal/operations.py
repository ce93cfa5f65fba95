"""The monthly appraisal beyond its route: the staff register, opening a month, the department's view
with grades and performance pay, and evidence from other cases proposed as deductions.

Who may do what is asked of the engine's policy, from the definition's `access:` section (its managers, its
readers and department roles) and from its steps (whoever may score a sheet decides on its evidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..definitions import Definition
from ..engine import history
from ..engine.cases import open_case
from ..engine.clock import Clock
from ..engine.errors import DuplicateCase, GuardFailed, InvalidInputs, NotFound, RoleRefused, WrongState
from ..engine.limits import check_department
from ..engine.periods import parse_period
from ..engine.policy import Actor, may_act, may_read_department, refuse_read_only, refuse_unless_manager
from ..engine.publishing import current_workflow, workflow_of
from ..engine.users import user_by_name
from ..models import Case
from . import distribution, scoring
from . import templates as sheet_templates
from .extensions import SCORESHEET, sheet_owner
from .models import DepartmentCoefficient, DepartmentHead, Evidence, StaffMember

WORKFLOW = "appraisal"
# The fields of appraisal.yaml that the staff register fills when a month is opened, and the month view reads.
EMPLOYEE, SUPERVISOR, DEPARTMENT, PERIOD, TEMPLATE = "employee", "supervisor", "department", "period", "template"


def parse_month(raw: Any) -> str:
    """The month (YYYY-MM) `raw` names, or InvalidPeriod about the `period` field: the one month parser."""
    return str(parse_period(raw, PERIOD))


def definition(session: Session) -> Definition:
    """The current version of the appraisal's definition."""
    return current_workflow(session, WORKFLOW)[1].definition


def departments(session: Session) -> list[str]:
    """Every department on the staff register, in order."""
    return sorted(set(session.scalars(select(StaffMember.department))))


def _amount(raw: Any, name: str) -> Decimal:
    """A pay amount in yuan: the column holds 2 decimals below 10^10; anything else would fail in the database
    or be rounded."""
    try:
        pay = Decimal(str(raw))
    except ArithmeticError:
        pay = Decimal("NaN")
    if not (pay.is_finite() and Decimal("0") <= pay < Decimal(10**10) and pay == pay.quantize(Decimal("0.01"))):
        raise InvalidInputs("The standard pay is an amount in yuan with at most 2 decimals",
                            "标准绩效工资须为金额（元），最多2位小数",
                            {name: {"en": "must be an amount with at most 2 decimals",
                                    "zh": "须为金额，最多2位小数"}})
    return pay


def set_staff(
    session: Session, name: str, department: str, template: str, standard_pay: Decimal, supervisor: str,
    active: bool = True,
) -> StaffMember:
    """Add or change an employee's entry in the staff register."""
    check_department(department)
    pay = _amount(standard_pay, "standard_pay")
    if len(supervisor) > 80:  # user names are VARCHAR(80)
        raise InvalidInputs("No user has so long a name", "用户名过长",
                            {"supervisor": {"en": "is longer than any user name", "zh": "用户名过长"}})
    if user_by_name(session, name) is None:
        raise NotFound(f"no user {name!r}", f"没有用户 {name!r}")
    if template not in sheet_templates.template_keys(session):
        raise InvalidInputs(f"no score-sheet template {template!r}", f"没有考核表模板 {template!r}",
                            {"template": {"en": "unknown template", "zh": "未知模板"}})
    if supervisor == name:
        raise InvalidInputs(
            "Nobody supervises themselves: the sheet could never be countersigned", "员工不能做自己的直接主管",
            {"supervisor": {"en": "must be someone else", "zh": "须为他人"}},
        )
    member = session.get(StaffMember, name) or StaffMember(user_name=name)
    member.department, member.template, member.standard_pay = department, template, pay
    member.supervisor, member.active = supervisor, active
    session.add(member)
    session.flush()
    return member


@dataclass
class OpenedMonth:
    opened: list[Case] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (employee, why)


def open_month(session: Session, clock: Clock, department: str, period: str, actor: Actor) -> OpenedMonth:
    """Open the month's sheet for every active employee of `department`, each with their template."""
    department, period = check_department(department), parse_month(period)
    refuse_unless_manager(actor, definition(session))
    staff = session.scalars(
        select(StaffMember).where(StaffMember.department == department, StaffMember.active.is_(True))
        .order_by(StaffMember.user_name)
    ).all()
    if not staff:
        raise NotFound(f"nobody works in {department!r}", f"部门 {department!r} 没有员工")
    result = OpenedMonth()
    for member in staff:
        data = {EMPLOYEE: member.user_name, SUPERVISOR: member.supervisor, DEPARTMENT: department,
                PERIOD: period, TEMPLATE: member.template}
        try:
            with session.begin_nested():
                result.opened.append(open_case(session, clock, WORKFLOW, data, actor))
        except DuplicateCase:
            result.skipped.append((member.user_name, "a sheet for this month exists already"))
        except (InvalidInputs, GuardFailed) as exc:  # one wrong register entry must not hold up the others
            result.skipped.append((member.user_name, exc.messages["en"]))
    return result


def coefficient_bounds(current: Definition) -> tuple[Decimal, Decimal]:
    """The lowest and highest department coefficient the definition allows (its constants)."""
    return (Decimal(str(current.constants.get("department_coefficient_min", "0.001"))),
            Decimal(str(current.constants.get("department_coefficient_max", "3"))))


def set_coefficient(
    session: Session, clock: Clock, department: str, period: str, coefficient: Decimal, actor: Actor
) -> None:
    """Record the department coefficient of a month (a figure the workflow's managers set)."""
    department, period = check_department(department), parse_month(period)
    coefficient = Decimal(str(coefficient))
    current = definition(session)
    refuse_unless_manager(actor, current)
    low, high = coefficient_bounds(current)
    # Three decimals at most: the column keeps three, and would round 0.0001 to a coefficient of 0.
    if not (coefficient.is_finite() and low <= coefficient <= high
            and coefficient == coefficient.quantize(Decimal("0.001"))):
        raise InvalidInputs(f"The coefficient must be from {low} to {high}, with at most 3 decimals",
                            f"部门系数须在{low}至{high}之间，最多3位小数",
                            {"coefficient": {"en": f"must be from {low} to {high}, with at most 3 decimals",
                                             "zh": f"须在{low}至{high}之间，最多3位小数"}})
    row = session.get(DepartmentCoefficient, (department, period)) or DepartmentCoefficient(
        department=department, period=period)
    row.coefficient, row.set_by, row.set_at = Decimal(str(coefficient)), actor.name, clock.now()
    session.add(row)
    session.flush()


@dataclass(frozen=True)
class SheetRow:
    employee: str
    case_id: int
    number: str | None
    state: str
    total: Decimal | None
    grade: str | None
    pay_coefficient: Decimal | None
    standard_pay: Decimal | None
    performance_pay: Decimal | None
    performance_report_required: bool
    interview_recorded: bool
    is_head: bool = False  # the department's head: paid coefficient × standard pay, outside the pool
    capped: Decimal | None = None  # reward points the 100 cap cut (001 §2.3)
    distribution_reason: str | None = None  # why the grade goes beyond the forced distribution


@dataclass(frozen=True)
class HeadPay:
    head: str
    standard_pay: Decimal
    pay: Decimal  # 001 §5.1: department coefficient × the head's standard pay


@dataclass(frozen=True)
class MonthView:
    department: str
    period: str
    coefficient: Decimal
    rows: tuple[SheetRow, ...]
    distribution: dict[str, scoring.GradeShare]
    head: HeadPay | None = None
    pool: Decimal = Decimal(0)  # coefficient × ΣS of the staff scored, the head aside
    remainder: Decimal = Decimal(0)  # ΣS − pool when the coefficient is below 1: paid out quarterly
    rule: str = "show"  # HR's forced-distribution rule for the department
    allowed: dict[str, int] = field(default_factory=dict)  # grade -> sheets of the month that may have it


def department_month(session: Session, department: str, period: str, actor: Actor) -> MonthView:
    """All sheets of a department's month with totals, grades, the distribution and the performance pay."""
    department, period = check_department(department), parse_month(period)
    if not may_read_department(session, actor, definition(session), department):
        raise RoleRefused("A department's appraisal month is for HR, its department head and auditors",
                          "部门考核结果仅供人力资源部、本部门领导和审计员查看")
    cases = session.scalars(
        select(Case).where(
            Case.workflow_key == WORKFLOW, Case.data[DEPARTMENT].as_string() == department,
            Case.data[PERIOD].as_string() == period,
        ).order_by(Case.id)
    ).all()
    staff = {m.user_name: m for m in session.scalars(select(StaffMember).where(StaffMember.department == department))}
    coefficient = month_coefficient(session, department, period)
    head = department_head(session, department, coefficient)
    # 001 §5.1: the head's pay is outside the staff's pool (部门负责人绩效薪资可不包含在部门员工绩效薪资总额之中).
    scored = [c for c in cases if c.data.get("total_score") is not None and c.data[EMPLOYEE] in staff
              and (head is None or c.data[EMPLOYEE] != head.head)]
    standards = [staff[c.data[EMPLOYEE]].standard_pay for c in scored]
    pays = scoring.performance_pay(
        [(s, Decimal(c.data["total_score"])) for s, c in zip(standards, scored, strict=True)], coefficient
    ) if scored else []
    pay_of = {c.id: p for c, p in zip(scored, pays, strict=True)}
    rows = [_row(case, staff.get(case.data[EMPLOYEE]), head, pay_of.get(case.id)) for case in cases]
    current = definition(session)
    shares = distribution.shares(current)
    people = len(rows)
    return MonthView(
        department, period, coefficient, tuple(rows),
        scoring.grade_distribution((r.grade for r in rows if r.grade), shares), head=head,
        pool=(coefficient * sum(standards, Decimal(0))).quantize(Decimal("0.01")),
        remainder=scoring.remainder(standards, coefficient),
        rule=distribution.rule_for(session, current, department),
        allowed={g: scoring.grade_ceiling(share, people) for g, share in (shares or {}).items()},
    )


def _row(case: Case, member: StaffMember | None, head: HeadPay | None, pay: Decimal | None) -> SheetRow:
    d = case.data
    is_head = head is not None and d[EMPLOYEE] == head.head
    capped = ((d.get("sheet") or {}).get("result") or {}).get("capped")
    return SheetRow(
        employee=d[EMPLOYEE], case_id=case.id, number=case.number, state=case.state,
        total=Decimal(d["total_score"]) if d.get("total_score") is not None else None,
        grade=d.get("grade", "").upper() or None,
        pay_coefficient=Decimal(d["pay_coefficient"]) if d.get("pay_coefficient") is not None else None,
        standard_pay=head.standard_pay if is_head and head else (member.standard_pay if member else None),
        performance_pay=head.pay if is_head and head else pay,
        performance_report_required=bool(d.get("performance_report_required")),
        interview_recorded=bool(d.get("interview_record")), is_head=is_head,
        capped=Decimal(capped) if capped is not None else None,
        distribution_reason=d.get(distribution.REASON_FIELD) or None,
    )


def month_coefficient(session: Session, department: str, period: str) -> Decimal:
    """The department coefficient HR set for the month; 1 until they set one."""
    found = session.get(DepartmentCoefficient, (department, period))
    return found.coefficient if found else Decimal("1")


def department_head(session: Session, department: str, coefficient: Decimal) -> HeadPay | None:
    """The department's head and their month's pay at `coefficient` (None until HR names one)."""
    row = session.get(DepartmentHead, department)
    if row is None:
        return None
    pay = Decimal(row.standard_pay).quantize(Decimal("0.01"))  # as the column keeps it, on either database
    return HeadPay(row.head, pay, scoring.head_pay(coefficient, pay))


def set_department_head(
    session: Session, clock: Clock, department: str, head: str, standard_pay: Decimal | str, actor: Actor
) -> DepartmentHead:
    """Name a department's head and their standard performance pay (the workflow's managers: HR)."""
    department = check_department(department)
    refuse_unless_manager(actor, definition(session))
    pay = _amount(standard_pay, "standard_pay")
    if not isinstance(head, str) or len(head) > 80 or user_by_name(session, head) is None:
        raise NotFound(f"no user {head!r}", f"没有用户 {head!r}")
    row = session.get(DepartmentHead, department) or DepartmentHead(department=department)
    row.head, row.standard_pay, row.set_by, row.set_at = head, pay, actor.name, clock.now()
    session.add(row)
    session.flush()
    return row


def set_distribution_rule(session: Session, clock: Clock, department: str, rule: str, actor: Actor) -> str:
    """HR's forced-distribution rule for a department: `show`, `reason` or `block` (001 §2.3)."""
    refuse_unless_manager(actor, definition(session))
    return distribution.set_rule(session, department, rule, actor.name, clock.now()).rule


# --- evidence ------------------------------------------------------------------------------------


def evidence_for(session: Session, sheet: Case) -> list[Evidence]:
    """The proposals for the person and month of an appraisal sheet."""
    person, month = sheet_owner(workflow_of(sheet.version).definition, sheet.data)
    return list(session.scalars(
        select(Evidence).where(Evidence.person == person, Evidence.period == month).order_by(Evidence.id)
    ))


def _may_score(session: Session, actor: Actor, sheet_definition: Definition, sheet: Case) -> bool:
    """Whether the definition lets `actor` score this sheet, its state aside: a step that enters a score sheet,
    whose roles the actor holds here and whose assignee field names them (the sheet's supervisor)."""
    return any(
        any(i.spec.type == SCORESHEET for i in t.inputs)
        and may_act(session, actor, sheet_definition, t, sheet)
        and (t.assignee_field is None or sheet.data.get(t.assignee_field) == actor.name)
        for t in sheet_definition.transitions.values()
    )


def decide_evidence(
    session: Session, clock: Clock, sheet: Case, evidence_id: int, actor: Actor, accept: bool, item: str | None,
) -> Evidence:
    """Whoever may score the sheet (its supervisor) accepts a proposal, naming the sheet item it deducts, or
    rejects it."""
    if item is not None and not isinstance(item, str):  # a list or an object would reach a dict lookup
        raise InvalidInputs("Name the sheet item as text", "考核表扣分项目须为文本",
                            {"item": {"en": "must be text", "zh": "必须是文本"}})
    refuse_read_only(actor)
    evidence = session.get(Evidence, evidence_id)
    sheet_definition = workflow_of(sheet.version).definition
    if evidence is None or sheet.workflow_key != WORKFLOW \
            or (evidence.person, evidence.period) != sheet_owner(sheet_definition, sheet.data):
        raise NotFound("no such proposal on this sheet", "本考核表没有此项建议扣分")
    if not _may_score(session, actor, sheet_definition, sheet):
        raise RoleRefused("Only the sheet's supervisor decides on proposed deductions",
                          "只有本考核表的直接主管可以处理建议扣分")
    if evidence.status != "proposed":
        raise WrongState(f"This proposal was {evidence.status} already", f"此建议已处理（{evidence.status}）")
    scores_here = any(i.spec.type == SCORESHEET for t in sheet_definition.transitions_from(sheet.state)
                      for i in t.inputs)
    scored = any(sheet.data.get(n) is not None for n, f in sheet_definition.fields.items() if f.type == SCORESHEET)
    if sheet_definition.is_final(sheet.state) or (scored and not scores_here):
        # An accepted deduction must reach the total: after scoring it would only if the sheet came back.
        raise WrongState("The sheet is scored already; proposals are decided before it is scored",
                         "考核表已评分，建议扣分须在评分前处理")
    # Taken before the history row is added: one writer per case at a time (see history.append).
    session.execute(select(Case.id).where(Case.id == sheet.id).with_for_update())
    if accept:
        scored_value = next((sheet.data.get(n) for n, f in sheet_definition.fields.items()
                             if f.type == SCORESHEET), None)
        template = sheet_templates.for_sheet(session, sheet.data[TEMPLATE], scored_value)[0]
        if template is None:
            raise NotFound("no such score-sheet template", "没有此考核表模板")
        if item not in template.items() or template.items()[item].banded:
            raise InvalidInputs("Name the deduction item of the sheet this proposal counts as",
                                "请指定此建议对应的考核表扣分项目",
                                {"item": {"en": "not a deduction item of this sheet", "zh": "不是本考核表的扣分项目"}})
    now = clock.now()
    evidence.status = "accepted" if accept else "rejected"
    evidence.item, evidence.sheet_case_id = (item if accept else None), sheet.id
    evidence.decided_by, evidence.decided_at = actor.name, now
    session.flush()
    source = session.get(Case, evidence.source_case_id)
    history.append(
        session, sheet, at=now, actor=actor.name, action=f"evidence_{evidence.status}",
        from_state=sheet.state, to_state=sheet.state, kind=history.NOTICE, comment=evidence.reason["zh"],
        inputs={"evidence": evidence.id, "source_case": source.number or source.id if source else None,
                "item": evidence.item},
    )
    return evidence
