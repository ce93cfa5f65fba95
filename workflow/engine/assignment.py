"""Ownership of a case: the person working it, beside the role that owns its step.

A case belongs to the roles of its step (the definition); assigning it names one person among them, as a
help desk's "assigned to". Every change is a history row of kind `assignment` (so the chain records who
assigned whom, and when) and tells the new assignee (a notification of kind `assignment`). Who may assign
and who may be assigned is the policy's (`may_assign`, `may_work`).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import Case, HistoryEntry, Notification, User, UserRole
from . import history, policy
from .clock import Clock
from .errors import InvalidInputs, RoleRefused
from .numbering import case_name
from .publishing import workflow_of
from .users import actor_of, user_by_name

ASSIGN, UNASSIGN = "assign", "unassign"
FIELD = "assignee"  # the form field a refusal is reported on
_CASES = cast(Table, Case.__table__)


def candidates(session: Session, case: Case) -> list[User]:
    """The enabled people who may be assigned the case now: they work its step and see it."""
    definition = workflow_of(case.version).definition
    roles = policy.step_roles(definition, case.state)
    if not roles:
        return []
    people = session.scalars(
        select(User).where(User.disabled_at.is_(None), User.id.in_(
            select(UserRole.user_id).where(UserRole.role.in_(roles)))).order_by(User.name)
    )
    return [u for u in people if policy.may_work(session, actor_of(u), case)]


def _refuse_unless_assigner(session: Session, actor: policy.Actor, case: Case) -> None:
    policy.refuse_read_only(actor)
    if not policy.may_assign(session, actor, case):
        raise RoleRefused(
            "Only the people working this step, or the workflow's managers, may assign this case",
            "只有办理此步骤的人员或流程管理员可以分派此案件",
        )


def _assignee_of(session: Session, case: Case, name: str) -> str:
    """`name` if that person may be assigned the case now; InvalidInputs on the assignee field otherwise."""
    user = user_by_name(session, name) if 0 < len(name) <= 80 else None
    if user is None or user.disabled_at is not None:
        raise _invalid(f"There is no active user {name[:80]!r}", f"没有在职用户 {name[:80]!r}")
    if not policy.may_work(session, actor_of(user), case):
        raise _invalid(f"{name} does not hold a role that works this step", f"{name} 不担任办理此步骤的角色")
    return name


def _invalid(en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(en, zh, {FIELD: {"en": en, "zh": zh}})


def assign(
    session: Session, clock: Clock, case: Case, actor: policy.Actor, assignee: str | None,
) -> HistoryEntry | None:
    """Assign `case` to `assignee` (None: unassign). Records an `assignment` row and notifies the assignee;
    nothing happens (None) when the case already is as asked. Flushes; the caller commits."""
    _refuse_unless_assigner(session, actor, case)
    if assignee is not None:
        assignee = _assignee_of(session, case, assignee.strip())
    previous = case.assignee
    if previous == assignee:
        return None
    inputs: dict[str, Any] = {FIELD: assignee, "previous": previous}
    entry = history.append(
        session, case, at=clock.now(), actor=actor.name, action=ASSIGN if assignee else UNASSIGN,
        from_state=case.state, to_state=case.state, inputs=inputs, comment=None, kind="assignment",
    )
    # A plain UPDATE, not the ORM's: an assignment leaves the case's lock_version as it is, so a step form
    # someone has open stays valid (the chain head's compare-and-set above already serialises the writers).
    session.connection().execute(update(_CASES).where(_CASES.c.id == case.id).values(assignee=assignee))
    set_committed_value(case, "assignee", assignee)
    if assignee is not None and assignee != actor.name:
        _notify(session, clock, case, assignee, actor.name)
    session.flush()
    return entry


def _notify(session: Session, clock: Clock, case: Case, assignee: str, by: str) -> None:
    user = user_by_name(session, assignee)
    if user is None:
        return
    name = case_name(case)
    session.add(Notification(
        user_id=user.id, case_id=case.id, kind="assignment", created_at=clock.now(),
        message={"en": f"{by} assigned case {name['en']} to you", "zh": f"{by} 将案件 {name['zh']} 分派给您"},
        email_status="pending" if user.email else "none",
    ))
