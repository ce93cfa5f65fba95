"""The parts closeout (002 §4.5): every 15 days the service lead lists every part still owed (欠补件明细); the
quality director approves the list and sends the closeout instruction to production, with a grace of at most
3 days; a part still missing after the grace is a breach of the instruction, 100 yuan on the ledger of the
person instructed (002 注, workflow/penalties/).

Every number and role is the replacement-part definition's data (its `closeout_*` constants), and "still
owed" is its `closeout_clock` running: the clock that runs from the order to production until the part
arrives. Operations flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..definitions import Definition
from ..engine import history, policy
from ..engine.clock import Clock
from ..engine.errors import FourEyesRefused, InvalidInputs, NotFound, RoleRefused, WrongState
from ..engine.publishing import current_workflow
from ..engine.users import user_by_name
from ..models import Case, Timer
from ..penalties.ledger import record_closeout_breach
from .models import ARRIVED, BREACHED, CloseoutLine, CloseoutList

PARTS = "replacement_part"
NOTE = "closeout"  # the action of the note each listed request gets when its list is approved
NOTE_KIND = "note"  # a history row that records a fact about the case, not a move


@dataclass(frozen=True)
class Rules:
    """The closeout's numbers and roles, from the replacement-part definition's constants."""

    definition: Definition
    cycle_days: int
    grace_days: int
    instructed_role: str
    clock_name: str


def rules(session: Session) -> Rules:
    definition = current_workflow(session, PARTS)[1].definition
    c = definition.constants
    return Rules(definition, int(c["closeout_cycle_days"]), int(c["closeout_grace_days"]),
                 str(c["closeout_instructed_role"]), str(c["closeout_clock"]))


@dataclass(frozen=True)
class OwedPart:
    case: Case
    owed_since: datetime


def owed_parts(session: Session, r: Rules) -> list[OwedPart]:
    """Every request whose part is still owed now: its closeout clock runs, oldest order first."""
    rows = session.execute(
        select(Case, Timer.started_at).join(Timer, Timer.case_id == Case.id)
        .where(Case.workflow_key == PARTS, Timer.name == r.clock_name, Timer.status == "running")
        .order_by(Timer.started_at, Case.id)
    ).all()
    return [OwedPart(case, since) for case, since in rows]


def _refuse(allowed: bool, en: str, zh: str) -> None:
    if not allowed:
        raise RoleRefused(en, zh)


def get_list(session: Session, actor: policy.Actor, list_id: int) -> CloseoutList:
    r = rules(session)
    _refuse(policy.may_read_closeout(actor, r.definition), "You may not read the closeout lists",
            "您无权查看补件收尾清单")
    found = session.get(CloseoutList, list_id)
    if found is None:
        raise NotFound(f"No closeout list {list_id}", f"没有补件收尾清单 {list_id}")
    return found


def recent_lists(session: Session, actor: policy.Actor, limit: int = 24) -> list[CloseoutList]:
    """The latest lists, newest first (24: a year of fortnightly rounds)."""
    r = rules(session)
    _refuse(policy.may_read_closeout(actor, r.definition), "You may not read the closeout lists",
            "您无权查看补件收尾清单")
    return list(session.scalars(select(CloseoutList).order_by(CloseoutList.drawn_at.desc(), CloseoutList.id.desc())
                                .limit(limit)))


def draw_up(session: Session, clock: Clock, actor: policy.Actor) -> CloseoutList:
    """The lead's list of every part still owed; at most one list per cycle (15 days)."""
    r = rules(session)
    policy.refuse_read_only(actor)
    _refuse(policy.may_list_closeout(actor, r.definition), "Only the service lead draws up a closeout list",
            "只有售后组长可以统计欠补件明细")
    now = clock.now()
    last = session.scalar(select(func.max(CloseoutList.drawn_at)).where(CloseoutList.workflow_key == PARTS))
    if last is not None and now < last + timedelta(days=r.cycle_days):
        due = clock.local(last + timedelta(days=r.cycle_days)).strftime("%Y-%m-%d %H:%M")
        raise WrongState(f"The closeout runs every {r.cycle_days} days: the next list is due from {due}",
                         f"补件收尾以{r.cycle_days}天为周期：下一次清单自 {due} 起统计")
    drawn = CloseoutList(workflow_key=PARTS, drawn_at=now, drawn_by=actor.name)
    drawn.lines = [CloseoutLine(case_id=o.case.id, part=str(o.case.data.get("part", ""))[:200],
                                quantity=o.case.data.get("quantity"), owed_since=o.owed_since)
                   for o in owed_parts(session, r)]
    session.add(drawn)
    session.flush()
    return drawn


def _check_instructed(session: Session, r: Rules, name: str) -> str:
    user = user_by_name(session, name) if isinstance(name, str) and 0 < len(name) <= 80 else None
    if user is None or user.disabled_at is not None or r.instructed_role not in user.roles:
        en = f"Name an active user holding the role {r.instructed_role}: the instruction goes to them"
        zh = f"请填写具有角色 {r.instructed_role} 的在职用户：收尾指令下达给此人"
        raise InvalidInputs(en, zh, {"instructed": {"en": en, "zh": zh}})
    return user.name


def approve(session: Session, clock: Clock, actor: policy.Actor, list_id: int, instructed: str) -> CloseoutList:
    """The quality director approves the list: the instruction goes to `instructed` with the grace."""
    r = rules(session)
    policy.refuse_read_only(actor)
    _refuse(policy.may_approve_closeout(actor, r.definition), "Only the quality director approves a closeout list",
            "只有品质办主任可以审批补件收尾清单")
    drawn = get_list(session, actor, list_id)
    if drawn.approved_at is not None:
        raise WrongState(f"Closeout list {list_id} is already approved", f"补件收尾清单 {list_id} 已审批")
    if drawn.drawn_by == actor.name:  # four-eyes, as on every approval of the service
        raise FourEyesRefused("Someone else approves the list you drew up", "您统计的清单须由他人审批")
    person = _check_instructed(session, r, instructed)
    now = clock.now()
    drawn.approved_at, drawn.approved_by, drawn.instructed = now, actor.name, person
    # (choice) calendar days, as the 15-day cycle: "at most three days" is the production's own time.
    drawn.grace_until = now + timedelta(days=r.grace_days)
    for line in drawn.lines:
        _note(session, line, drawn, now)
    session.flush()
    return drawn


def _note(session: Session, line: CloseoutLine, drawn: CloseoutList, now: datetime) -> None:
    """The request's own history says it is on an approved closeout list, and until when production has."""
    case = session.get(Case, line.case_id)
    assert case is not None and drawn.grace_until is not None
    history.append(session, case, at=now, actor=str(drawn.approved_by), action=NOTE, from_state=case.state,
                   to_state=case.state, kind=NOTE_KIND, comment=None,
                   inputs={"closeout_list": drawn.id, "instructed": drawn.instructed,
                           "grace_until": drawn.grace_until.isoformat()})


def settle(session: Session, clock: Clock, actor_name: str = "system") -> list[CloseoutList]:
    """Settle every approved list whose grace is over: each part still owed is a breach on the ledger of the
    person instructed; each part that arrived is marked so. Settling twice changes nothing."""
    r = rules(session)
    now = clock.now()
    due = session.scalars(select(CloseoutList).where(
        CloseoutList.workflow_key == PARTS, CloseoutList.settled_at.is_(None),
        CloseoutList.grace_until.is_not(None), CloseoutList.grace_until <= now).order_by(CloseoutList.id)).all()
    still_owed = {o.case.id: o.case for o in owed_parts(session, r)}
    for drawn in due:
        for line in drawn.lines:
            _settle_line(session, clock, drawn, line, still_owed, actor_name)
        drawn.settled_at = now
    session.flush()
    return list(due)


def _settle_line(session: Session, clock: Clock, drawn: CloseoutList, line: CloseoutLine,
                 still_owed: dict[int, Case], actor_name: str) -> None:
    case = still_owed.get(line.case_id)
    if case is None:
        line.outcome = ARRIVED
        return
    assert drawn.grace_until is not None and drawn.instructed is not None
    number = case.number or str(case.id)
    entry = record_closeout_breach(
        session, clock, person=drawn.instructed, period=clock.local(drawn.grace_until).strftime("%Y-%m"),
        reference=f"closeout:{drawn.id}:{number}", recorded_by=actor_name, source_case_id=case.id,
        reason=f"Part {line.part} ({number}) still owed after closeout list {drawn.id}'s grace "
               f"/ 补件收尾清单 {drawn.id} 宽限期后仍欠补件 {line.part}（{number}）"[:500],
    )
    line.outcome, line.penalty_id = BREACHED, entry.id
