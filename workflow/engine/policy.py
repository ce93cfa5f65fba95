"""Who may see a case, take a step, read a report or run a workflow's administration: the one place that answers.

Every answer comes from data: the roles a user holds, the staff register (which department a person works
in), and each definition's `access:` section (docs/definitions.md). The API, the UI and the CLI ask these
functions and never decide for themselves, so they cannot disagree.

Two rules hold for every workflow, from the glossary: an auditor reads every case and changes nothing,
whatever other roles they hold; the timer runtime (`system`) sees and acts where its definition says.
A case a user may not see does not exist for them: it is a 404, never a 403, so that its number says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, ScalarSelect, and_, bindparam, false, func, or_, select, true
from sqlalchemy import event as orm_events
from sqlalchemy.orm import Session

from ..definitions import Definition, TransitionSpec
from ..definitions.schema import SYSTEM_ROLE
from ..models import Case, HistoryEntry, WorkflowVersion
from . import extensions
from .clock import Clock
from .errors import NotFound, RoleRefused
from .history import TRANSITION
from .publishing import workflow_of


@dataclass(frozen=True)
class Actor:
    """Who is acting, with the roles they hold at that moment."""

    name: str
    roles: frozenset[str]


SYSTEM = Actor(SYSTEM_ROLE, frozenset({SYSTEM_ROLE}))
# PROCESSES glossary: an auditor reads everything and changes nothing, whatever other roles they hold.
READ_ONLY_ROLES = frozenset({"auditor"})
# PROCESSES glossary: the administrator keeps the users and their roles, and reads the auditors' access log.
# Like the auditor's, the role is the engine's: no definition declares it.
ADMIN_ROLES = frozenset({"admin"})


def is_read_only(actor: Actor) -> bool:
    """Whether the actor only reads (an auditor), so that no step, opening or setting is offered to them."""
    return bool(actor.roles & READ_ONLY_ROLES)


READ_ONLY_MESSAGES = {"en": "Auditors read everything and change nothing", "zh": "审计员只能查看，不能更改"}


def refuse_read_only(actor: Actor) -> None:
    """Raise RoleRefused for an actor whose roles make them a reader only. Every write operation calls this."""
    if is_read_only(actor):
        raise RoleRefused(READ_ONLY_MESSAGES["en"], READ_ONLY_MESSAGES["zh"])


def _reads_everything(actor: Actor) -> bool:
    return is_read_only(actor) or actor.name == SYSTEM_ROLE


def department_of(session: Session, name: str) -> str | None:
    """The department the staff register puts `name` in, or None for someone not on it.

    Read once until the session next writes or ends its transaction: a list asks it for every case on its
    page, and the register does not change under a request that only reads.
    """
    known: dict[str, str | None] = session.info.setdefault(_DEPARTMENTS, {})
    if name not in known:
        known[name] = session.scalar(extensions.department_query(name))
    return known[name]


_DEPARTMENTS = "departments"  # Session.info: the departments read in this transaction, by user name


def _forget_departments(session: Session, *_: Any) -> None:
    session.info.pop(_DEPARTMENTS, None)


for _event in ("after_flush", "after_commit", "after_rollback"):
    orm_events.listen(Session, _event, _forget_departments)


def readers(definition: Definition) -> frozenset[str]:
    """The roles that read every case of the workflow (auditors aside)."""
    access = definition.access
    if access.readers is not None:
        return frozenset(access.readers)
    return frozenset(definition.roles) - frozenset(access.department_roles)


# -- seeing cases ---------------------------------------------------------------------------------


def _version_clause(definition: Definition, actor: Actor, department: Any) -> ColumnElement[bool] | None:
    """SQL for the cases of one definition version that `actor` may see, or None for none of them."""
    access = definition.access
    if actor.roles & readers(definition):
        return true()
    ways: list[ColumnElement[bool]] = [Case.data[f].as_string() == actor.name for f in access.people]
    if actor.roles & set(access.department_roles) and access.department_field is not None:
        ways.append(Case.data[access.department_field].as_string() == department)
    return or_(*ways) if ways else None


def visible(session: Session, actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause over `Case`: the cases `actor` may see, so that a page of a list is a full page."""
    if _reads_everything(actor):
        return true()
    department = extensions.department_query(actor.name).scalar_subquery()
    clauses = []
    for version in session.scalars(select(WorkflowVersion)):
        clause = _version_clause(workflow_of(version).definition, actor, department)
        if clause is not None:
            clauses.append(and_(Case.version_id == version.id, clause))
    return or_(*clauses) if clauses else false()


def may_see(session: Session, actor: Actor, case: Case) -> bool:
    """Whether `actor` may see `case`; the same answer as `visible` gives in SQL."""
    if _reads_everything(actor):
        return True
    definition = workflow_of(case.version).definition
    access = definition.access
    if actor.roles & readers(definition):
        return True
    if any(case.data.get(f) == actor.name for f in access.people):
        return True
    return _in_department(session, actor, definition, case)


def _in_department(session: Session, actor: Actor, definition: Definition, case: Case) -> bool:
    field = definition.access.department_field
    if field is None or not actor.roles & set(definition.access.department_roles):
        return False
    department = department_of(session, actor.name)
    return department is not None and case.data.get(field) == department


def visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case, if `actor` may see it; NotFound otherwise, exactly as for a case that does not exist."""
    from .cases import get_case  # cases asks this module too: import late to keep one direction at load

    case = get_case(session, case_id)
    if not may_see(session, actor, case):
        raise NotFound(f"case {case_id} does not exist", f"案件 {case_id} 不存在")
    return case


# -- acting ---------------------------------------------------------------------------------------


def acting_roles(session: Session, actor: Actor, definition: Definition, case: Case) -> frozenset[str]:
    """The actor's roles that count on this case: a department role counts only in its own department."""
    if is_read_only(actor):
        return frozenset()
    scoped = actor.roles & set(definition.access.department_roles)
    if scoped and not _in_department(session, actor, definition, case):
        return actor.roles - scoped
    return actor.roles


def may_act(session: Session, actor: Actor, definition: Definition, transition: TransitionSpec, case: Case) -> bool:
    """Whether the actor's roles let them take `transition` on a case they may see (state, inputs and guards
    aside). Seeing is asked once per case by the callers, not once per step."""
    return bool(acting_roles(session, actor, definition, case) & set(transition.roles))


def may_open(actor: Actor, openers: frozenset[str]) -> bool:
    """Whether the actor may open a case of a workflow whose opening roles are `openers`."""
    return not is_read_only(actor) and bool(actor.roles & openers)


# -- reports and administration -------------------------------------------------------------------


def may_read_workflow_report(actor: Actor, definition: Definition) -> bool:
    """Figures over every case of a workflow (the SLA report): its readers and the auditors."""
    return _reads_everything(actor) or bool(actor.roles & readers(definition))


def may_read_department(session: Session, actor: Actor, definition: Definition, department: str) -> bool:
    """A department's cases taken together (a department's month, say): whoever may see all of them."""
    if may_read_workflow_report(actor, definition):
        return True
    access = definition.access
    return bool(actor.roles & set(access.department_roles)) and department_of(session, actor.name) == department


def readable_departments(session: Session, actor: Actor, definition: Definition) -> list[str] | None:
    """The departments whose cases the actor may read together; None means every department."""
    if may_read_workflow_report(actor, definition):
        return None
    if actor.roles & set(definition.access.department_roles):
        own = department_of(session, actor.name)
        return [own] if own else []
    return []


def may_manage(actor: Actor, definition: Definition) -> bool:
    """Whether the actor runs the workflow's administration (open a month, set its coefficient)."""
    return not is_read_only(actor) and bool(actor.roles & set(definition.access.managers))


def refuse_unless_manager(actor: Actor, definition: Definition) -> None:
    refuse_read_only(actor)
    if not may_manage(actor, definition):
        who = ", ".join(definition.access.managers) or "-"
        raise RoleRefused(
            f"Only these roles administer {definition.title['en']}: {who}",
            f"只有以下角色可以管理{definition.title['zh']}：{who}",
        )


def _entered_by() -> ScalarSelect[Any]:
    """SQL for who made the move that put the case in its current state (`cases.entered_by`)."""
    return (
        select(HistoryEntry.actor)
        .where(HistoryEntry.case_id == Case.id, HistoryEntry.kind == TRANSITION)
        .order_by(HistoryEntry.seq.desc()).limit(1)
        .correlate(Case).scalar_subquery()
    )


def _step_clause(
    definition: Definition, transition: TransitionSpec, actor: Actor, department: Any
) -> ColumnElement[bool] | None:
    """SQL for the cases of a version on which nothing but a guard can stop `actor` taking `transition`:
    the state, the roles (a department role only in its department), the assignee field and four-eyes.
    The same checks as `refusals.refusal`, in SQL; None when the actor holds none of the step's roles."""
    held = actor.roles & set(transition.roles)
    if not held:
        return None
    access = definition.access
    parts: list[ColumnElement[bool]] = [Case.state.in_(transition.sources)]
    if not held - set(access.department_roles):  # only department roles: only in their department
        if access.department_field is None:
            return None
        parts.append(Case.data[access.department_field].as_string() == department)
    if transition.assignee_field is not None:
        parts.append(Case.data[transition.assignee_field].as_string() == actor.name)
    if transition.four_eyes:
        parts.append(func.coalesce(_entered_by(), "") != actor.name)
    return and_(*parts)


def actionable(
    session: Session, actor: Actor, filters: ColumnElement[bool] | None = None, *, clock: Clock | None = None
) -> ColumnElement[bool]:
    """A WHERE clause over `Case`: the cases `actor` may take a step on now, of those `filters` lets through.

    Exactly the cases whose `available_actions` is not empty, so a list built on it and the steps shown on
    each of its cases cannot disagree. Everything but the guards is SQL: visibility, read-only, the roles
    (department roles only in their department), the state, the assignee field and four-eyes (from the
    history). The guards that read no input are judged in Python, by the same `refusal` that `advance`
    and `available_actions` use, on the cases SQL leaves in a step that has such a guard; those that pass
    enter the clause by id. The guards are not translated into SQL on purpose: they are expressions over
    typed values (decimals, dates, None compared as Python compares it) with functions over other tables
    (`previous`, `staff`, `actor_has`), and a second evaluator in SQL could answer differently from the one
    that decides the move. Because the clause is complete, counting and paging over it are exact.
    `clock` gives the guards their `now` and `today` (the real time when not given).
    """
    from .refusals import refusal  # refusals asks this module: import late to keep one direction at load

    if is_read_only(actor):
        return false()
    department = extensions.department_query(actor.name).scalar_subquery()
    plain: list[ColumnElement[bool]] = []
    guarded: list[ColumnElement[bool]] = []
    guarded_steps: dict[int, list[TransitionSpec]] = {}
    for version in session.scalars(select(WorkflowVersion)):
        definition = workflow_of(version).definition
        for transition in definition.transitions.values():
            clause = _step_clause(definition, transition, actor, department)
            if clause is None:
                continue
            clause = and_(Case.version_id == version.id, clause)
            if any(not guard.uses_inputs for guard in transition.guards):
                guarded.append(clause)
                guarded_steps.setdefault(version.id, []).append(transition)
            else:
                plain.append(clause)
    if not plain and not guarded:
        return false()
    scope = and_(visible(session, actor), filters if filters is not None else true())
    passed: list[int] = []
    if guarded:
        now = clock or Clock()
        for case in session.scalars(select(Case).where(scope, or_(*guarded))):
            steps = (t for t in guarded_steps[case.version_id] if case.state in t.sources)
            if any(refusal(session, case, t, actor, now) is None for t in steps):
                passed.append(case.id)
    # Inlined, not bound: a long list of ids would pass the databases' limits on bound parameters.
    ids: BindParameter[list[int]] = bindparam(
        "actionable_ids", passed, expanding=True, literal_execute=True, unique=True,
    )
    return and_(scope, or_(*plain, Case.id.in_(ids)))


# -- The questions of the slices. Each block is its slice's; its functions read the roles they name
# -- from the definitions (or the engine's constants above), like everything else in this module.

# -- penalties and complaint reports --


def _named_roles(definition: Definition, *constants: str) -> frozenset[str]:
    """The roles a definition's constants name (a text constant may name several, separated by spaces)."""
    return frozenset(r for name in constants for r in str(definition.constants.get(name, "")).split())


def may_read_complaint_report(actor: Actor, definition: Definition) -> bool:
    """The monthly complaint report (003 篇1 (九)10): auditors, the role that makes it and its readers."""
    return _reads_everything(actor) or bool(actor.roles & _named_roles(definition, "report_role", "report_readers"))


def may_confirm_complaint_report(actor: Actor, definition: Definition) -> bool:
    return not is_read_only(actor) and bool(actor.roles & _named_roles(definition, "report_role"))


def may_read_penalties(actor: Actor, definition: Definition, person: str | None = None) -> bool:
    """The penalty ledger: everyone's for the report's readers, the recorder and the approvers; one's own."""
    everyone = _named_roles(definition, "report_role", "report_readers", "penalty_recorder", "penalty_approver",
                            "closeout_breach_approver")
    return _reads_everything(actor) or bool(actor.roles & everyone) or (person is not None and person == actor.name)


def may_record_penalties(actor: Actor, definition: Definition) -> bool:
    return not is_read_only(actor) and bool(actor.roles & _named_roles(definition, "penalty_recorder"))


def may_decide_penalty(actor: Actor, definition: Definition, closeout_breach: bool) -> bool:
    """The GM approves the reward and penalty notice (003 篇1 (十二)2); a closeout breach, its own approver."""
    role = "closeout_breach_approver" if closeout_breach else "penalty_approver"
    return not is_read_only(actor) and bool(actor.roles & _named_roles(definition, role))


# -- service rules and their reports --


def may_read_service_targets(actor: Actor, definition: Definition) -> bool:
    """A month's service targets, figures over every call of the service's workflow (`definition`): its
    readers and the auditors, as for any workflow report."""
    return may_read_workflow_report(actor, definition)


def _constant_role(definition: Definition, constant: str) -> frozenset[str]:
    """The role a definition's constant names, if the definition declares it (none otherwise: fail closed)."""
    role = definition.constants.get(constant)
    return frozenset({role}) if isinstance(role, str) and role in definition.roles else frozenset()


def may_list_closeout(actor: Actor, definition: Definition) -> bool:
    """Draw up a parts closeout list (002 §4.5: the service lead): the role `closeout_lister` names."""
    return not is_read_only(actor) and bool(actor.roles & _constant_role(definition, "closeout_lister"))


def may_approve_closeout(actor: Actor, definition: Definition) -> bool:
    """Approve a closeout list and its instruction (002 §4.5: the quality director): `closeout_approver`."""
    return not is_read_only(actor) and bool(actor.roles & _constant_role(definition, "closeout_approver"))


def may_read_closeout(actor: Actor, definition: Definition) -> bool:
    """Closeout lists name every part owed: the workflow's readers, the auditors, and those who run them."""
    return (may_read_workflow_report(actor, definition) or may_list_closeout(actor, definition)
            or may_approve_closeout(actor, definition))

# -- audit workspace --

# Who audits the auditors, reading the access log of every auditor's look at a case, a replay or an export:
# the administrators (ADMIN_ROLES).
AUDIT_ADMIN_ROLES = ADMIN_ROLES


def may_audit(actor: Actor) -> bool:
    """The audit area (search, export, replay, the last verification): auditors and audit admins. What it
    shows of each case is still limited to the cases `visible` lets the actor see."""
    return is_read_only(actor) or bool(actor.roles & AUDIT_ADMIN_ROLES)


def may_read_access_log(actor: Actor) -> bool:
    return bool(actor.roles & AUDIT_ADMIN_ROLES)


def is_logged_look(actor: Actor) -> bool:
    """Whether the actor's looks at cases, replays and exports go to the access log: every auditor's do."""
    return is_read_only(actor)


def chain_break_roles() -> frozenset[str]:
    """Who hears of a broken history chain found by a periodic verification."""
    return READ_ONLY_ROLES | AUDIT_ADMIN_ROLES


# -- process owners' workbench --

# PROCESSES glossary: the process owner edits the definitions. A definition may name its own owners' roles in
# the constant `process_owners` (space-separated); else they are the glossary's role, like the auditor's.
PROCESS_OWNER_ROLES = frozenset({"process_owner"})
PROCESS_OWNERS_CONSTANT = "process_owners"


def process_owner_roles(definition: Definition | None) -> frozenset[str]:
    named = definition.constants.get(PROCESS_OWNERS_CONSTANT) if definition is not None else None
    return frozenset(named.split()) if isinstance(named, str) and named.strip() else PROCESS_OWNER_ROLES


def is_process_owner(actor: Actor, definition: Definition | None) -> bool:
    """Whether the actor edits, publishes and migrates `definition` (None: a workflow not published yet)."""
    return not is_read_only(actor) and bool(actor.roles & process_owner_roles(definition))


def may_create_workflow(actor: Actor) -> bool:
    return is_process_owner(actor, None)


def may_view_workflow(actor: Actor, definition: Definition) -> bool:
    """Whether the actor reads a workflow's versions and rules: its process owners, auditors, its roles."""
    return is_process_owner(actor, definition) or is_read_only(actor) or bool(actor.roles & set(definition.roles))


def refuse_unless_process_owner(actor: Actor, definition: Definition | None) -> None:
    refuse_read_only(actor)
    if not is_process_owner(actor, definition):
        raise RoleRefused("Only a process owner of this workflow may do this", "只有该流程的流程负责人可以执行此操作")


def may_administer_users(actor: Actor) -> bool:
    """Whether the actor creates and disables users, assigns their roles and issues or revokes their tokens."""
    return not is_read_only(actor) and bool(actor.roles & ADMIN_ROLES)


def refuse_unless_user_admin(actor: Actor) -> None:
    refuse_read_only(actor)
    if not may_administer_users(actor):
        raise RoleRefused("Only an administrator may manage users", "只有管理员可以管理用户")


# The engine's own roles have no definition to label them: the glossary's words (docs/processes.md).
ENGINE_ROLE_LABELS = {
    "auditor": {"en": "Auditor", "zh": "审计员"},
    "process_owner": {"en": "Process owner", "zh": "流程负责人"},
    "admin": {"en": "Administrator", "zh": "管理员"},
}


def assignable_roles(session: Session) -> list[str]:
    """The roles a user may be given: every role the published workflows declare, and the engine's own."""
    from .publishing import latest_versions  # beside workflow_of, imported late like the others here

    roles = set(READ_ONLY_ROLES | PROCESS_OWNER_ROLES | ADMIN_ROLES)
    for version in latest_versions(session):
        roles.update(workflow_of(version).definition.roles)
    roles.discard(SYSTEM_ROLE)
    return sorted(roles)


# -- staff desk: ownership, notes, attachments --


def step_roles(definition: Definition, state: str) -> frozenset[str]:
    """The roles that take a step from `state` (the timer runtime aside): who works a case in that state."""
    return frozenset(r for t in definition.transitions_from(state) for r in t.roles) - {SYSTEM_ROLE}


def may_work(session: Session, actor: Actor, case: Case) -> bool:
    """Whether `actor` holds, on this case, a role that takes a step from its state: who may be assigned it."""
    if not may_see(session, actor, case):
        return False
    definition = workflow_of(case.version).definition
    return bool(acting_roles(session, actor, definition, case) & step_roles(definition, case.state))


def may_assign(session: Session, actor: Actor, case: Case) -> bool:
    """Assigning a case (to oneself or a colleague) or unassigning it: whoever works its step, and the
    workflow's managers."""
    if is_read_only(actor) or not may_see(session, actor, case):
        return False
    return may_work(session, actor, case) or may_manage(actor, workflow_of(case.version).definition)


def may_note(session: Session, actor: Actor, case: Case) -> bool:
    """Writing a note or attaching a file: anyone who sees the case and may change things."""
    return not is_read_only(actor) and may_see(session, actor, case)
