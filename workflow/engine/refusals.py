"""Why a user may not take a step on a case now: one answer, with a code and a message in en and zh.

`advance` raises it as the matching error (and the API answers 409, 403 or 422 from that), the case page
explains a step the user is not offered with it, and `available_actions` offers exactly the steps for which
it has nothing to say. The checks run in the order `advance` documents: the case's state, read-only,
the roles (a department role only in its department), the assignee, four-eyes, then the guards that do
not read the step's inputs (those that do can only be judged once the inputs are given).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..definitions import Definition, TransitionSpec
from ..models import Case
from .clock import Clock
from .errors import FourEyesRefused, GuardFailed, RoleRefused, WorkflowError, WrongState
from .policy import READ_ONLY_MESSAGES, Actor, acting_roles, is_read_only
from .publishing import workflow_of

Messages = dict[str, str]

WRONG_STATE = "wrong_state"  # the case is not in a state the step leaves from
READ_ONLY = "read_only"  # an auditor: reads everything, changes nothing
WRONG_ROLE = "wrong_role"  # none of the actor's roles takes the step
OTHER_DEPARTMENT = "not_your_department"  # the actor's role takes it, but only in the department on the case
NOT_ASSIGNEE = "not_the_assignee"  # the step is for the person a case field names
FOUR_EYES = "four_eyes"  # the actor put the case into its state, and the step is four-eyes
GUARD = "guard"  # a condition of the definition does not hold: its own message
CODES = (WRONG_STATE, READ_ONLY, WRONG_ROLE, OTHER_DEPARTMENT, NOT_ASSIGNEE, FOUR_EYES, GUARD)

_ERRORS: dict[str, type[WorkflowError]] = {WRONG_STATE: WrongState, FOUR_EYES: FourEyesRefused, GUARD: GuardFailed}


@dataclass(frozen=True)
class Refusal:
    code: str  # one of CODES
    messages: Messages  # {"en": ..., "zh": ...}
    field: str | None = None  # the field a guard's message is about

    def error(self) -> WorkflowError:
        """The engine error that carries this refusal (a RoleRefused for the codes about who may act)."""
        kind = _ERRORS.get(self.code, RoleRefused)
        return kind(self.messages["en"], self.messages["zh"], {self.field: self.messages} if self.field else None)


def _labels(definition: Definition, roles: tuple[str, ...] | list[str], lang: str) -> str:
    comma = "、" if lang == "zh" else ", "
    return comma.join(definition.roles.get(r, {}).get(lang) or r for r in roles)


def _wrong_state(definition: Definition, transition: TransitionSpec, case: Case) -> Refusal:
    step, state = transition.label, definition.states[case.state].label
    return Refusal(WRONG_STATE, {
        "en": f"'{step['en']}' cannot be taken while the case is '{state['en']}'",
        "zh": f"案件处于“{state['zh']}”，不能执行“{step['zh']}”",
    })


def _wrong_role(definition: Definition, transition: TransitionSpec) -> Refusal:
    step = transition.label
    return Refusal(WRONG_ROLE, {
        "en": f"'{step['en']}' needs one of the roles: {_labels(definition, transition.roles, 'en')}",
        "zh": f"“{step['zh']}”需要以下角色之一：{_labels(definition, transition.roles, 'zh')}",
    })


def _other_department(definition: Definition, transition: TransitionSpec, case: Case, held: list[str]) -> Refusal:
    step, field = transition.label, definition.access.department_field
    department = str(case.data.get(field) or "?") if field else "?"
    return Refusal(OTHER_DEPARTMENT, {
        "en": f"Only the {_labels(definition, held, 'en')} of {department}, the department named on this case, "
              f"may '{step['en']}'",
        "zh": f"只有本案件所属部门（{department}）的{_labels(definition, held, 'zh')}可以执行“{step['zh']}”",
    })


def _not_assignee(transition: TransitionSpec, case: Case, field: str) -> Refusal:
    named = case.data.get(field) or "?"
    return Refusal(NOT_ASSIGNEE, {
        "en": f"Only {named}, named as {field} on this case, may '{transition.label['en']}'",
        "zh": f"只有本案件指定的 {named} 可以执行“{transition.label['zh']}”",
    })


def _four_eyes(definition: Definition, transition: TransitionSpec, case: Case) -> Refusal:
    step, state = transition.label, definition.states[case.state].label
    return Refusal(FOUR_EYES, {
        "en": f"You put this case into '{state['en']}', so someone else must '{step['en']}'",
        "zh": f"案件由您提交至“{state['zh']}”，“{step['zh']}”须由他人执行",
    })


def who_refusal(
    session: Session, definition: Definition, case: Case, transition: TransitionSpec, actor: Actor
) -> Refusal | None:
    """The refusal about who the actor is (read-only, roles, department), for a case in the step's state."""
    if is_read_only(actor):
        return Refusal(READ_ONLY, dict(READ_ONLY_MESSAGES))
    if acting_roles(session, actor, definition, case) & set(transition.roles):
        return None
    held = [r for r in transition.roles if r in actor.roles]
    return _other_department(definition, transition, case, held) if held else _wrong_role(definition, transition)


def refusal(
    session: Session, case: Case, transition: TransitionSpec, actor: Actor, clock: Clock, *, guards: bool = True
) -> Refusal | None:
    """Why `actor` may not take `transition` on `case` now, or None if nothing stands in the way.

    For a case the actor may see (a case they may not see does not exist for them: the callers answer
    NotFound first). `clock` is the guards' `now` and `today`. With guards=False the guards are left to
    the caller, as `advance` does, which judges them once the inputs are typed.
    """
    from .cases import entered_by, unmet_guards  # cases asks this module: import late to keep one direction at load
    from .guards import summary

    definition = workflow_of(case.version).definition
    if case.state not in transition.sources:
        return _wrong_state(definition, transition, case)
    if (refused := who_refusal(session, definition, case, transition, actor)) is not None:
        return refused
    field = transition.assignee_field
    if field is not None and case.data.get(field) != actor.name:
        return _not_assignee(transition, case, field)
    if transition.four_eyes and entered_by(session, case) == actor.name:
        return _four_eyes(definition, transition, case)
    if guards and (failed := unmet_guards(session, definition, transition, case, actor, clock)):
        return Refusal(GUARD, summary(failed), failed[0].field if len(failed) == 1 else None)
    return None
