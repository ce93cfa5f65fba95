"""Complaint escalation (000: business unit → quality department → president; 003 篇1 (二十六): a serious
complaint to the deputy GM at once), as the complaint definition's constants say.

Level 1 is whoever holds the case: the timers' reminders already reach them. Levels 2 and 3 are recorded in
the case's history (a notice, action `escalation`) and notified (kind `escalation`) once each, by
`escalate_overdue`, which the daily complaint duties run (`flask workflow complaint-duties`). The serious
complaint's notice is an effect of the step the definition names (`serious_escalation_on`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..definitions import Definition, TransitionSpec
from ..definitions.schema import SYSTEM_ROLE
from ..engine import extensions, history
from ..engine.clock import Clock
from ..engine.notifications import notify
from ..engine.publishing import workflow_of
from ..models import Case, HistoryEntry, Timer

ESCALATION = "escalation"  # the notification kind and the history notice's action


def _name(case: Case) -> str:
    return case.number or f"#{case.id}"


def notify_serious(
    session: Session, clock: Clock, definition: Definition, transition: TransitionSpec, case: Case, at: datetime,
) -> None:
    """After the step the definition names, tell its serious-escalation role of a complaint marked serious."""
    constants = definition.constants
    if transition.name != constants.get("serious_escalation_on") or not case.data.get("serious"):
        return
    role = str(constants["serious_escalation_role"])
    notify(session, [role], case=case, kind=ESCALATION, at=at, message={
        "en": f"Serious complaint {_name(case)} ({case.data.get('customer', '')}): for your review at once",
        "zh": f"情节重大的客户投诉 {_name(case)}（{case.data.get('customer', '')}）：请即核阅"})


extensions.register_effect("serious_escalation", notify_serious)


def _escalated_levels(session: Session, case: Case) -> set[int]:
    rows = session.scalars(select(HistoryEntry.inputs).where(
        HistoryEntry.case_id == case.id, HistoryEntry.kind == history.NOTICE, HistoryEntry.action == ESCALATION))
    return {int(inputs.get("level", 0)) for inputs in rows}


def _due_level(clock: Clock, definition: Definition, expired_at: datetime, now: datetime) -> int:
    assert clock.calendar is not None
    days = int(definition.constants["escalation_level_3_after_working_days"])
    return 3 if now >= clock.calendar.add_working_days(expired_at, days) else 2


def _escalate(session: Session, clock: Clock, definition: Definition, case: Case, level: int) -> None:
    role = str(definition.constants[f"escalation_level_{level}_role"])
    now = clock.now()
    history.append(session, case, at=now, actor=SYSTEM_ROLE, action=ESCALATION, from_state=case.state,
                   to_state=case.state, inputs={"level": level, "addressed_to": [role]},
                   comment=f"投诉升级至第{level}级 Complaint escalated to level {level}", kind=history.NOTICE)
    notify(session, [role], case=case, kind=ESCALATION, at=now, message={
        "en": f"Complaint {_name(case)} is past its closure limit: escalated to you (level {level})",
        "zh": f"客户投诉 {_name(case)} 已超过结案期限：升级至您处理（第{level}级）"})


def escalate_overdue(session: Session, clock: Clock) -> int:
    """Escalate each open case whose escalation timer has run out to the level its lateness reaches, once per
    level; returns how many escalations were recorded."""
    now, count = clock.now(), 0
    rows = session.execute(select(Case, Timer.name, Timer.due_at).join(Timer, Timer.case_id == Case.id).where(
        Timer.status == "running", Timer.due_at <= now).order_by(Case.id)).all()
    for case, timer_name, due_at in rows:
        definition = workflow_of(case.version).definition
        if timer_name not in str(definition.constants.get("closure_timers", "")).split():
            continue
        done = _escalated_levels(session, case)
        for level in range(2, _due_level(clock, definition, due_at, now) + 1):
            if level not in done:
                _escalate(session, clock, definition, case, level)
                count += 1
    session.flush()
    return count
