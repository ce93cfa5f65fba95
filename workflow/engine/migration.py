"""Moving running cases from one published version of a workflow to a later one.

A plan (dry run) and a run share one per-case computation: the state the case lands in (the state map,
identity by name by default), the case data checked against the later version's fields, and what happens to
each timer. Running timers whose definition still exists keep their start and are re-timed with the new
duration and calendar (`timers.due_at`); timers the later version drops, or that cannot run in the new state,
stop; timers new in the later version that can run in the new state start from the moment the case entered
its current state (choice: the last transition's time; the sources are silent on older starts).

A run writes each case in a savepoint of its own, in batches: the case row moves by a compare-and-set on
`lock_version`, `last_seq` and `version_id`, so a case moved by a concurrent step is left alone (listed as
stale, retried by the next run), and a case is migrated exactly once however many runs overlap. A run only
picks cases still on the earlier version: run it again to resume.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, insert, update
from sqlalchemy.orm import Session

from ..definitions import Definition, TimerSpec, expressions, values
from ..models import Case, Timer, WorkflowVersion
from . import history, policy
from .cases import typed_data
from .clock import Clock
from .errors import InvalidInputs, StaleCase
from .impact import running_cases, version_row
from .policy import Actor
from .publishing import workflow_of
from .timers import add_duration, due_at, may_run, stop

MAX_MAP = 200  # more entries than any definition has states
MAX_BATCH = 1000

_CASES = cast(Table, Case.__table__)
_TIMERS = cast(Table, Timer.__table__)
# The case moves to the later version only if nobody moved it since it was read, and only once.
_MOVE = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("b_id"), _CASES.c.lock_version == bindparam("b_version"),
           _CASES.c.last_seq == bindparam("b_seq"), _CASES.c.version_id == bindparam("b_from"))
    .values(version_id=bindparam("to_id"), state=bindparam("state"), updated_at=bindparam("updated_at"))
)
# lock_version stays: it counts the case's moves (`audit verify` holds it to its transition rows), and a
# migration is no move. A step that read the case before still loses, on last_seq: the migration's history
# row moves the chain head in the same transaction.


def _refuse(field_name: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(f"Please correct: {field_name}", f"请更正：{field_name}", {field_name: {"en": en, "zh": zh}})


@dataclass
class Versions:
    key: str
    old: WorkflowVersion
    new: WorkflowVersion
    old_def: Definition
    new_def: Definition
    state_map: dict[str, str] = field(default_factory=dict)


def _check_map_shape(state_map: Any) -> dict[str, str]:
    if state_map is None:
        return {}
    if not isinstance(state_map, dict) or len(state_map) > MAX_MAP:
        raise _refuse("state_map", f"must be an object of at most {MAX_MAP} state names",
                      f"须为最多 {MAX_MAP} 个状态名的对象")
    if not all(isinstance(k, str) and isinstance(v, str) and len(k) <= 80 and len(v) <= 80
               for k, v in state_map.items()):
        raise _refuse("state_map", "maps state names to state names", "须为状态名到状态名的映射")
    return dict(state_map)


def resolve(
    session: Session, actor: Actor | None, key: str, from_version: int, to_version: int, state_map: Any
) -> Versions:
    """The two versions and the complete state map, or the refusal that says what is wrong."""
    given = _check_map_shape(state_map)
    if not isinstance(from_version, int) or not isinstance(to_version, int) or to_version <= from_version:
        raise _refuse("to_version", "must be a later version than from_version", "须晚于原版本")
    old, new = version_row(session, key, from_version), version_row(session, key, to_version)
    old_def, new_def = workflow_of(old).definition, workflow_of(new).definition
    if actor is not None:
        policy.refuse_unless_process_owner(actor, new_def)
    not_old = sorted(set(given) - set(old_def.states))
    if not_old:
        raise _refuse("state_map", f"not states of version {from_version}: {', '.join(not_old)}",
                      f"不是版本 {from_version} 的状态：{', '.join(not_old)}")
    missing_target = sorted({v for v in given.values() if v not in new_def.states})
    if missing_target:
        raise _refuse("state_map", f"not states of version {to_version}: {', '.join(missing_target)}",
                      f"不是版本 {to_version} 的状态：{', '.join(missing_target)}")
    unmapped = sorted(s for s in old_def.states if s not in new_def.states and s not in given)
    if unmapped:
        raise _refuse("state_map", f"states of version {from_version} missing from version {to_version} "
                      f"must be mapped: {', '.join(unmapped)}",
                      f"版本 {to_version} 中没有的状态须映射：{', '.join(unmapped)}")
    complete = {s: given.get(s, s) for s in old_def.states}
    return Versions(key, old, new, old_def, new_def, complete)


# -- one case --------------------------------------------------------------------------------------


def data_problems(clock: Clock, definition: Definition, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the case data does not satisfy the definition's fields (required, type, bounds)."""
    problems = []
    for name, spec in definition.fields.items():
        if spec.computed is not None or spec.type == "scoresheet":
            continue  # worked out, or checked by the slice that registered the type
        raw = data.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if spec.required:
                problems.append({"field": name, "message": {"en": "is required", "zh": "必填"}})
            continue
        try:
            values.coerce(spec, raw, clock.tz)
        except values.InvalidValue as exc:
            problems.append({"field": name, "message": exc.messages})
    return problems


def _warn(clock: Clock, spec: TimerSpec, started: datetime, due: datetime) -> datetime | None:
    warn = add_duration(clock, due, spec.warn_before, sign=-1) if spec.warn_before else None
    return warn if warn is not None and warn > started else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def timer_plan(
    clock: Clock, v: Versions, case: Case, to_state: str, entered_at: datetime
) -> list[dict[str, Any]]:
    """What happens to each of the case's timers: keep, retime, stop, start."""
    new_specs = {t.name: t for t in v.new_def.timers}
    can_run = may_run(v.new_def, to_state)
    running = [t for t in case.timers if t.status == "running"]
    plan = []
    for timer in running:
        spec = new_specs.get(timer.name)
        new_due = due_at(clock, spec, timer.started_at, case.data) if spec and timer.name in can_run else None
        action = "stop" if new_due is None else ("keep" if new_due == timer.due_at else "retime")
        plan.append({"name": timer.name, "action": action, "timer_id": timer.id, "started_at": _iso(timer.started_at),
                     "old_due_at": _iso(timer.due_at), "new_due_at": _iso(new_due)})
    old_names = {t.name for t in v.old_def.timers}
    typed = typed_data(v.new_def, case.data)
    for spec in v.new_def.timers:
        if spec.name in old_names or spec.name not in can_run or any(t.name == spec.name for t in running):
            continue
        if spec.when and not expressions.evaluate(spec.when, typed):
            continue
        new_due = due_at(clock, spec, entered_at, case.data)
        if new_due is not None:
            plan.append({"name": spec.name, "action": "start", "timer_id": None, "started_at": _iso(entered_at),
                         "old_due_at": None, "new_due_at": _iso(new_due)})
    return plan


def case_plan(clock: Clock, v: Versions, case: Case, entered_at: datetime) -> dict[str, Any]:
    to_state = v.state_map.get(case.state, case.state)
    problems = data_problems(clock, v.new_def, case.data)
    return {"case_id": case.id, "number": case.number, "from_state": case.state, "to_state": to_state,
            "outcome": "invalid" if problems else "migrate", "problems": problems,
            "timers": [] if problems else timer_plan(clock, v, case, to_state, entered_at)}


def _entered_at(session: Session, case: Case) -> datetime:
    last = history.last_entry(session, case.id, history.TRANSITION)
    return last.at if last is not None else case.created_at


# -- writing ---------------------------------------------------------------------------------------


def _apply_timers(session: Session, clock: Clock, v: Versions, case: Case, plan: list[dict[str, Any]]) -> None:
    now = clock.now()
    specs = {t.name: t for t in v.new_def.timers}
    by_id = {t.id: t for t in case.timers}
    for step in plan:
        if step["action"] == "keep":
            continue
        if step["action"] == "stop":
            stop(by_id[step["timer_id"]], now)
        elif step["action"] == "retime":
            _retime(clock, by_id[step["timer_id"]], specs[step["name"]], now)
        else:
            started = datetime.fromisoformat(step["started_at"])
            due = datetime.fromisoformat(step["new_due_at"])
            warn = _warn(clock, specs[step["name"]], started, due)
            session.connection().execute(insert(_TIMERS), {
                "case_id": case.id, "name": step["name"], "status": "running", "started_at": started,
                "due_at": due, "warn_at": warn, "next_action_at": warn or due, "repeats": 0})


def _retime(clock: Clock, timer: Timer, spec: TimerSpec, now: datetime) -> None:
    """The new due time from the timer's own start; an expiry already passed stands if the new due has passed too."""
    due = due_at(clock, spec, timer.started_at, timer.case.data)
    assert due is not None  # the plan stops the timers without one
    timer.due_at, timer.warn_at = due, _warn(clock, spec, timer.started_at, due)
    if timer.expired_at is not None and due > now:
        timer.expired_at = timer.expired_state = None  # no longer expired: the worker expires it again on time
    if timer.expired_at is None:
        warn_pending = timer.warn_at is not None and timer.warned_at is None
        timer.next_action_at = timer.warn_at if warn_pending else due


def _migrate_case(session: Session, clock: Clock, actor: Actor, v: Versions, case: Case) -> dict[str, Any]:
    plan = case_plan(clock, v, case, _entered_at(session, case))
    if plan["outcome"] == "invalid":
        return plan
    now = clock.now()
    moved = {"state": plan["to_state"], "updated_at": now, "to_id": v.new.id}
    result = cast(CursorResult[Any], session.connection().execute(_MOVE, {
        "b_id": case.id, "b_version": case.lock_version, "b_seq": case.last_seq, "b_from": v.old.id, **moved}))
    if result.rowcount != 1:
        raise history.stale(case)
    from_state = case.state
    # The session's Case as the UPDATE left it, as committed state (no second UPDATE from the ORM).
    history.set_head(case, {"state": plan["to_state"], "updated_at": now, "version_id": v.new.id})
    session.expire(case, ["version"])
    _apply_timers(session, clock, v, case, plan["timers"])
    session.flush()
    session.expire(case, ["timers"])
    changed = {k: t for k, t in v.state_map.items() if k != t}
    history.append(session, case, at=now, actor=actor.name, action="migrate", from_state=from_state,
                   to_state=plan["to_state"], kind=history.MIGRATION, comment=None,
                   inputs={"from_version": v.old.version, "to_version": v.new.version, "state_map": changed})
    return {**plan, "outcome": "migrated"}


def _candidates(session: Session, v: Versions, skip: set[int], limit: int) -> list[Case]:
    query = running_cases(session, v.old).order_by(Case.id).limit(limit)
    if skip:
        query = query.where(Case.id.not_in(skip))
    return list(session.scalars(query))


def _answer(v: Versions, dry_run: bool, cases: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for c in cases:
        counts[c["outcome"]] = counts.get(c["outcome"], 0) + 1
    return {"key": v.key, "from_version": v.old.version, "to_version": v.new.version, "dry_run": dry_run,
            "state_map": v.state_map, "cases": cases, "counts": counts}


def plan_migration(
    session: Session, clock: Clock, key: str, from_version: int, to_version: int, state_map: Any,
    actor: Actor | None = None,
) -> dict[str, Any]:
    """What a run would do to each running case of `from_version` (the dry run); writes nothing.

    With `actor`, only a process owner may ask (the API); without, the caller has asked the policy already."""
    v = resolve(session, actor, key, from_version, to_version, state_map)
    cases = list(session.scalars(running_cases(session, v.old).order_by(Case.id)))
    return _answer(v, True, [case_plan(clock, v, c, _entered_at(session, c)) for c in cases])


def _one(session: Session, clock: Clock, actor: Actor, v: Versions, case: Case) -> dict[str, Any]:
    """Migrate one case in a savepoint; a concurrent change is retried once on the fresh row."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return _migrate_case(session, clock, actor, v, case)
        except StaleCase:
            session.expire(case)
            if attempt == 2 or case.version_id != v.old.id:
                break
    return {"case_id": case.id, "number": case.number, "from_state": case.state, "to_state": None,
            "outcome": "stale", "problems": [], "timers": []}


def run_migration(
    session: Session, clock: Clock, actor: Actor, key: str, from_version: int, to_version: int, state_map: Any,
    *, batch_size: int = 100, after_batch: Callable[[], None] | None = None, check_owner: bool = True,
) -> dict[str, Any]:
    """Migrate every running case of `from_version` that passes, in batches; `after_batch` commits each.

    `check_owner=False` is for the server's shell only, whose operator may do anything (as `workflow load`)."""
    if not 0 < batch_size <= MAX_BATCH:
        raise _refuse("batch_size", f"must be 1 to {MAX_BATCH}", f"须为 1 至 {MAX_BATCH}")
    v = resolve(session, actor if check_owner else None, key, from_version, to_version, state_map)
    done: list[dict[str, Any]] = []
    skip: set[int] = set()
    while batch := _candidates(session, v, skip, batch_size):
        for case in batch:
            result = _one(session, clock, actor, v, case)
            done.append(result)
            if result["outcome"] != "migrated":
                skip.add(case.id)
        if after_batch is not None:
            after_batch()
    return _answer(v, False, done)
