"""A case as of a moment, for the case API (`GET /cases/<id>?as_of=`) and the replay page."""

from __future__ import annotations

from workflow.engine import workflow_of
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
    return CaseAsOf.of_replay(clock(), replay, dict(definition.states[replay.state].label))


def note_case_look(case: Case, actor: Actor) -> None:
    """An auditor opened the case as it is now: logged (log_look asks the policy whose looks count)."""
    log_look(actor, "case", case.id)
