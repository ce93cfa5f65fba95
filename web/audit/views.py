"""A case as of a moment, for the case API (`GET /cases/<id>?as_of=`) and the replay page."""

from __future__ import annotations

from workflow.engine import numbering, workflow_of
from workflow.engine.policy import Actor
from workflow.engine.replay import Replayed, replay_as_of
from workflow.models import Case

from ..extensions import clock, db_session
from .common import log_look, parse_moment, refuse
from .models import CaseAsOf


def replayed(case: Case, raw_as_of: str | None, actor: Actor) -> Replayed:
    """The case (one the actor may see) replayed at `raw_as_of`, the look logged when it is an auditor's."""
    moment = parse_moment(raw_as_of, "as_of")
    if moment is None:
        raise refuse("as_of", "is required", "必填")
    replay = replay_as_of(db_session(), clock(), case, moment)
    log_look(actor, "replay", case.id, f"as_of {moment.isoformat()}")
    return replay


def case_as_of(case: Case, raw_as_of: str | None, actor: Actor) -> CaseAsOf:
    replay = replayed(case, raw_as_of, actor)
    definition = workflow_of(case.version).definition
    return CaseAsOf.of_replay(clock(), replay, dict(definition.states[replay.state].label), _name_at(case, replay))


def _name_at(case: Case, replay: Replayed) -> dict[str, str]:
    """What the case was called at T: numbering's name for the case as it stood then, i.e. without the number
    it got later (a transient copy, never added to the session)."""
    if replay.number == case.number:
        return dict(numbering.case_name(case))
    return dict(numbering.case_name(Case(id=case.id, number=replay.number, version=case.version)))


def note_case_look(case: Case, actor: Actor) -> None:
    """An auditor opened the case as it is now: logged (log_look asks the policy whose looks count)."""
    log_look(actor, "case", case.id)
