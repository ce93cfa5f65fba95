"""Opening cases and moving them: the only ways a case changes.

Operations flush but never commit: the caller (a request or a CLI command) commits once, so state,
data, history and timers of one move land in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from ..definitions import Definition, FieldSpec, TransitionSpec, values
from ..definitions.schema import SYSTEM_ROLE, GuardSpec, InputSpec, Label
from ..models import Case, HistoryEntry, Timer, WorkflowVersion
from . import (
    attachments,
    derived,
    driver,
    extensions,
    fulltext,
    guards,
    history,
    numbering,
    observe,
    pickers,
    policy,
    timers,
)
from .clock import Clock
from .errors import InvalidInputs, NotFound, RoleRefused, StaleCase, UnknownAction
from .limits import check_comment
from .machines import Workflow
from .policy import Actor, may_open, refuse_read_only
from .publishing import current_workflow, workflow_of
from .refusals import GUARD, refusal
from .users import user_by_name

CREATE_ACTION = "create"
Messages = dict[str, str]


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL

_CASES = cast(Table, Case.__table__)
_VERSIONS = cast(Table, WorkflowVersion.__table__)
# A move's compare-and-set, built once: the b_ parameters are the case as loaded.
_MOVE = driver.Prebuilt(
    update(_CASES)
    .where(_CASES.c.id == bindparam("b_id"), _CASES.c.lock_version == bindparam("b_version"),
           _CASES.c.last_seq == bindparam("b_seq"))
    .values({name: bindparam(name) for name in (
        "state", "data", "number", "updated_at", "lock_version", "last_seq", "last_hash", "last_mover",
        "search_text")})
)


# The case with its version row, as the ORM would load them (Case.version is lazy="joined", `source` deferred):
# every column of the models, so that a column added to them is loaded here too.
_CASE_COLUMNS = driver.loaded_columns(Case)
_VERSION_COLUMNS = driver.loaded_columns(WorkflowVersion)
_LOAD = driver.Prebuilt(
    select(*(c for _, c in _CASE_COLUMNS), *(c for _, c in _VERSION_COLUMNS))
    .join_from(_CASES, _VERSIONS, _CASES.c.version_id == _VERSIONS.c.id)
    .where(_CASES.c.id == bindparam("b_id"))
)


def _load_case(session: Session, case_id: int) -> Case | None:
    """The case and its version row in one statement on the driver, made persistent in `session`.

    What `session.get` does, for the common case of a Case the session does not hold yet and nothing
    pending to flush; otherwise `session.get` itself (which refreshes an expired Case, flushes first).
    """
    if (session.identity_map.get(identity_key(Case, case_id)) is not None
            or session.new or session.dirty or session.deleted):
        return session.get(Case, case_id)
    rows = _LOAD.rows(session.connection(), {"b_id": case_id})
    if not rows:
        return None
    row = rows[0]
    values = {key: value for (key, _), value in zip(_CASE_COLUMNS, row, strict=False)}
    version = session.identity_map.get(identity_key(WorkflowVersion, values["version_id"]))
    if version is None:
        version = driver.persistent(WorkflowVersion, {
            key: value for (key, _), value in zip(_VERSION_COLUMNS, row[len(_CASE_COLUMNS):], strict=True)})
    case = cast(Case, driver.persistent(Case, {**values, "version": version}))
    session.add(case)  # and its version, by the relationship's cascade
    return case


_TIMER_COLUMNS = driver.loaded_columns(Timer)
_TIMERS_TABLE = cast(Table, Timer.__table__)
_TIMERS_OF = driver.Prebuilt(
    select(*(c for _, c in _TIMER_COLUMNS))
    .where(_TIMERS_TABLE.c.case_id == bindparam("b_case")).order_by(_TIMERS_TABLE.c.id)
)


def load_timers(session: Session, case: Case) -> list[Timer]:
    """The case's timers as this transaction sees them (after a move: the ones it started and stopped), read on
    the driver, as `case.timers` would load them; the loaded list when the case has one already."""
    if "timers" in case.__dict__:
        return case.timers
    return _timers_read(session, case, _TIMERS_OF.send(session.connection(), {"b_case": case.id}))


def _timers_read(session: Session, case: Case, sent: driver.Sent) -> list[Timer]:
    """The timers that `sent` (_TIMERS_OF) read, as the case's loaded collection."""
    found = []
    for row in sent.rows():
        values = {key: value for (key, _), value in zip(_TIMER_COLUMNS, row, strict=True)}
        held = session.identity_map.get(identity_key(Timer, values["id"]))
        if held is None:
            held = driver.persistent(Timer, values)
            session.add(held)
        found.append(cast(Timer, held))
    set_committed_value(case, "timers", found)
    return case.timers


def get_case(session: Session, case_id: int) -> Case:
    case = _load_case(session, case_id) if 0 < case_id <= MAX_ID else None
    if case is None:
        raise NotFound(f"case {case_id} does not exist", f"案件 {case_id} 不存在")
    return case


def typed_data(definition: Definition, data: dict[str, Any]) -> dict[str, Any]:
    """The case's data as typed values for guards, with every field present (None when unset)."""
    return {name: values.from_json(spec, data.get(name)) for name, spec in definition.fields.items()}


class _TypedData(Mapping[str, Any]):
    """typed_data(definition, data), worked out on its first read: most moves start no timer that reads it."""

    def __init__(self, definition: Definition, data: dict[str, Any]):
        self._definition, self._data = definition, data
        self._typed: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        if self._typed is None:
            self._typed = typed_data(self._definition, self._data)
        return self._typed

    def __getitem__(self, name: str) -> Any:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _resolve_ref(session: Session, spec: FieldSpec, value: str) -> str | Messages:
    """The canonical reference (the case number, else its id) or the reason it is refused."""
    assert spec.ref is not None
    query = select(Case).where(Case.workflow_key == spec.ref.workflow)
    by_number = session.scalar(query.where(Case.number == value))
    # Only plain ASCII digits that fit the id column can be an id ("²".isdigit() is True, too).
    as_id = value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID
    target = by_number or (session.scalar(query.where(Case.id == int(value))) if as_id else None)
    if target is None:
        return {"en": f"no {spec.ref.workflow} case {value!r}", "zh": f"找不到案件 {value!r}"}
    if spec.ref.final and not workflow_of(target.version).definition.is_final(target.state):
        return {"en": f"case {value!r} is not closed yet", "zh": f"案件 {value!r} 尚未结案"}
    return target.number or str(target.id)


def _user_refusal(session: Session, spec: FieldSpec, name: str, roles: dict[str, Label]) -> Messages | None:
    """Why `name` cannot fill a field that names a user holding `spec.user_role`, or None if it can; the role
    is named as the definition calls it (`roles`), not by its key."""
    user = user_by_name(session, name)
    if user is None or user.disabled_at is not None:
        return {"en": f"there is no active user {name!r}", "zh": f"没有在用的用户 {name!r}"}
    if not pickers.may_be_named(user, spec.user_role or ""):
        role = roles.get(spec.user_role or "", {"en": spec.user_role or "", "zh": spec.user_role or ""})
        return {"en": f"{name} does not hold the role “{role['en']}”", "zh": f"{name} 不具有“{role['zh']}”角色"}
    return None


# Given the values typed so far and the inputs refused, the guards that fail besides (reported with them).
GuardsBesides = Callable[[dict[str, Any], set[str]], list[GuardSpec]]
# The field types whose values are plain once typed; any other (a scoresheet) a completer still works on.
_PLAIN_TYPES = frozenset(("string", "text", "integer", "decimal", "date", "datetime", "enum", "boolean"))


def _check_values(
    session: Session, clock: Clock, specs: list[InputSpec], raw: dict[str, Any], what: str,
    besides: GuardsBesides | None = None, roles: dict[str, Label] | None = None,
) -> dict[str, Any]:
    """Typed values for `specs` from `raw`; InvalidInputs with one message per bad field, and with the
    guards that `besides` finds failing over the rest."""
    problems: dict[str, Messages] = {}
    if not isinstance(raw, dict):
        raise InvalidInputs(f"{what} must be an object", f"{what} 必须是对象")
    known = {s.name for s in specs}
    for name in raw:
        if name not in known:
            problems[name] = {"en": "is not asked for here", "zh": "此处不需要此项"}
    typed: dict[str, Any] = {}
    for item in specs:
        value = raw.get(item.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if item.required:
                problems[item.name] = {"en": "is required", "zh": "必填"}
            continue
        try:
            typed[item.name] = values.coerce(item.spec, value, clock.tz)
        except values.InvalidValue as exc:
            problems[item.name] = exc.messages
            continue
        if item.spec.user_role is not None and (refused := _user_refusal(session, item.spec, typed[item.name],
                                                                                    roles or {})):
            problems[item.name] = refused
            continue
        if item.spec.ref is not None:
            resolved = _resolve_ref(session, item.spec, typed[item.name])
            if isinstance(resolved, dict):
                problems[item.name] = resolved
            else:
                typed[item.name] = resolved
    if problems:
        unknown = set(problems) | {s.name for s in specs if s.spec.type not in _PLAIN_TYPES}
        raise guards.with_problems(problems, besides(typed, unknown) if besides else [])
    return typed


def _as_inputs(definition: Definition) -> list[InputSpec]:
    return [InputSpec(f.name, f, f.required, to_case=True) for f in definition.opening_fields]


def opener_roles(definition: Definition) -> frozenset[str]:
    """Who may open a case: the definition's open_roles, else whoever may act in the initial state."""
    if definition.open_roles:
        return frozenset(definition.open_roles)
    return frozenset(
        role for t in definition.transitions_from(definition.initial_state) for role in t.roles
    ) - {SYSTEM_ROLE}


def open_case(
    session: Session, clock: Clock, key: str, data: dict[str, Any], actor: Actor, comment: str | None = None
) -> Case:
    """Open a case on the latest version of workflow `key`; history row 1 records the creation."""
    check_comment(comment)
    refuse_read_only(actor)
    version, workflow = current_workflow(session, key)
    definition = workflow.definition
    openers = opener_roles(definition)
    if not may_open(actor, openers):
        raise RoleRefused(
            f"Opening a {definition.title['en']} case needs one of the roles: {', '.join(sorted(openers))}",
            f"创建{definition.title['zh']}案件需要以下角色之一：{'、'.join(sorted(openers))}",
        )
    if not isinstance(data, dict):
        raise InvalidInputs("data must be an object", "data 必须是对象")
    functions = derived.actor_functions(session, actor)

    def failing(typed: dict[str, Any], unknown: set[str] | frozenset[str] = frozenset()) -> list[GuardSpec]:
        names = {**{n: values.from_json(f, None) for n, f in definition.fields.items()}, **typed,
                 **_context(clock), "actor": actor.name}
        return guards.failing(definition.open_guards, names, functions, unknown)

    typed = _check_values(session, clock, _as_inputs(definition), data, "data", failing, definition.roles)
    extensions.complete_inputs(session, definition, typed, data)
    if failed := failing(typed):
        raise guards.refused(failed)
    now = clock.now()
    # Defaults are the definition's, not the opener's: they apply to later steps' fields too.
    defaults = {name: spec.default for name, spec in definition.fields.items() if spec.default is not None}
    stored = {**defaults, **{name: values.to_json(v) for name, v in typed.items()}}
    stored = derived.recompute(session, definition, stored, _context(clock))
    case = Case(
        workflow_key=definition.key, version_id=version.id, version=version, state=definition.initial_state,
        data=stored, created_by=actor.name, created_at=now, updated_at=now,
    )
    if definition.number and definition.number.assign_on == CREATE_ACTION:
        case.number = numbering.assign(session, definition.key, definition.number, clock.local(now))
    case.search_text = fulltext.document(case.number, stored, [(comment, None)])
    session.add(case)
    session.flush()
    derived.claim_unique(session, definition, case)
    history.append(
        session, case, at=now, actor=actor.name, action=CREATE_ACTION, from_state=None,
        to_state=case.state, inputs=stored, comment=comment,
    )
    timers.on_transition(
        session, clock, definition, case, action=CREATE_ACTION, from_state=None, to_state=case.state,
        at=now, typed_data=typed_data(definition, stored),
    )
    return case


def entered_by(session: Session, case: Case) -> str | None:
    """Who made the move that put the case in its current state (kept on the case row with each move)."""
    return case.last_mover


def _context(clock: Clock) -> dict[str, Any]:
    now = clock.now()
    return {"now": now, "today": clock.local(now).date()}


def _guard_names(
    definition: Definition, case: Case, clock: Clock, typed_inputs: dict[str, Any], actor: Actor
) -> dict[str, Any]:
    return {**typed_data(definition, case.data), **typed_inputs, **_context(clock), "actor": actor.name}


def _guard_functions(session: Session, definition: Definition, case: Case, actor: Actor) -> dict[str, Any]:
    return {**derived.series_functions(session, definition, case.data), **derived.actor_functions(session, actor)}


def unmet_guards(
    session: Session, definition: Definition, transition: TransitionSpec, case: Case, actor: Actor, clock: Clock,
) -> list[GuardSpec]:
    """Every one of the step's guards that read no input and do not hold now."""
    without_inputs = [g for g in transition.guards if not g.uses_inputs]
    if not without_inputs:  # most steps: nothing to work the case's names out for
        return []
    names = _guard_names(definition, case, clock, {}, actor)
    functions = _guard_functions(session, definition, case, actor)
    return guards.failing(without_inputs, names, functions)


def _step_guards(
    session: Session, definition: Definition, transition: TransitionSpec, case: Case, actor: Actor, clock: Clock,
) -> GuardsBesides:
    """What judges the step's guards over the inputs typed so far, leaving out those reading `unknown`."""
    functions = _guard_functions(session, definition, case, actor) if transition.guards else {}

    def failing(typed_inputs: dict[str, Any], unknown: set[str]) -> list[GuardSpec]:
        if not transition.guards:
            return []
        names = _guard_names(definition, case, clock, typed_inputs, actor)
        return guards.failing(transition.guards, names, functions, unknown)

    return failing


def _check_guards(judge: GuardsBesides, typed_inputs: dict[str, Any]) -> None:
    """GuardFailed naming every one of the step's guards that does not hold with these inputs."""
    if failed := judge(typed_inputs, set()):
        observe.refused(GUARD)
        raise guards.refused(failed)


def available_actions(session: Session, clock: Clock, case: Case, actor: Actor) -> list[TransitionSpec]:
    """The steps `actor` may take now: those the engine's refusal has nothing to say about."""
    if not policy.may_see(session, actor, case):
        return []
    definition = workflow_of(case.version).definition
    return [t for t in definition.transitions_from(case.state) if refusal(session, case, t, actor, clock) is None]


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[Any]:
    return [value for name, value in after.items() if name not in before or before[name] != value]


def advance(
    session: Session, clock: Clock, case: Case, action: str, actor: Actor, inputs: dict[str, Any] | None = None,
    comment: str | None = None, expected_version: int | None = None, with_timers: bool = False,
) -> HistoryEntry:
    """Take `action` on `case` as `actor`, or raise the refusal that explains why not.

    `with_timers`: also read the case's timers as the move leaves them, into `case.timers`, in the same round
    trip as the move's writes (for an answer that shows them).

    Checks, in order: the client's view is current, the case's state, the actor's roles, the
    four-eyes rule, the inputs, the guards. Then moves the case and writes its data, history and
    timers; the UPDATE is a compare-and-set on lock_version.
    """
    check_comment(comment)
    workflow: Workflow = workflow_of(case.version)
    definition = workflow.definition
    transition = definition.transitions.get(action)
    if transition is None:
        raise UnknownAction(
            f"{definition.title['en']} has no action {action!r}", f"{definition.title['zh']}没有操作 {action!r}"
        )
    if not policy.may_see(session, actor, case):  # as if it did not exist: its state is none of their business
        raise NotFound(f"case {case.id} does not exist", f"案件 {case.id} 不存在")
    if expected_version is not None and expected_version != case.lock_version:
        name = numbering.case_name(case)
        raise StaleCase(
            f"Case {name['en']} has changed since you loaded it (version {expected_version}, "
            f"now {case.lock_version}); reload it and try again",
            f"案件 {name['zh']} 在您打开后已被他人修改"
            f"（版本 {expected_version}，现为 {case.lock_version}），请刷新后重试",
        )
    # State, read-only, roles, assignee and four-eyes; the guards wait for the inputs, below.
    if (refused := refusal(session, case, transition, actor, clock, guards=False)) is not None:
        observe.refused(refused.code)
        raise refused.error()
    if isinstance(inputs, dict):  # a file input must cite a file of this case (or one sent with this step)
        inputs = attachments.resolve(session, case, list(transition.inputs), inputs)
    judge = _step_guards(session, definition, transition, case, actor, clock)
    typed_inputs = _check_values(session, clock, list(transition.inputs), inputs or {}, "inputs", judge,
                                 definition.roles)
    extensions.complete_inputs(session, definition, typed_inputs, case.data)
    _check_guards(judge, typed_inputs)

    from_state = case.state
    dest = workflow.move(from_state, action)
    now = clock.now()
    stored_inputs = {name: values.to_json(v) for name, v in typed_inputs.items()}
    to_case = {i.name for i in transition.inputs if i.to_case}
    number = case.number
    if definition.number and definition.number.assign_on == action and number is None:
        number = numbering.assign(session, definition.key, definition.number, clock.local(now))
    merged = {**case.data, **{k: v for k, v in stored_inputs.items() if k in to_case}}
    data = derived.recompute(session, definition, merged, _context(clock))
    row = history.next_row(case, at=now, actor=actor.name, action=action, from_state=from_state, to_state=dest,
                           inputs=stored_inputs, comment=comment)
    # One UPDATE carries every column of the move and the chain head, as a compare-and-set on both
    # lock_version (moves) and last_seq (notices, which leave lock_version as it is). A self-loop
    # changes no other column; it is still a move and steps lock_version.
    moved = {"state": dest, "data": data, "number": number, "updated_at": now,
             "lock_version": case.lock_version + 1, **history.head_of(row),
             # Only what this move brings: the values the case had already are in the document (opening and
             # every move, the only writers of case data, put them there).
             "search_text": fulltext.extend(case.search_text or "", number, _changed(case.data, data), comment,
                                            stored_inputs)}
    # The writes go to PostgreSQL in one round trip (driver.pipeline), so the compare-and-set is judged once
    # they are back: a move that lost the race is refused as stale, whatever else its statements met.
    conn = session.connection()
    moving: driver.Sent | None = None
    try:
        with driver.pipeline(conn):
            moving = _MOVE.send(
                conn, {"b_id": case.id, "b_version": case.lock_version, "b_seq": case.last_seq, **moved})
            inserting = history.send_row(conn, row)
            timing = timers.send_transition(
                session, clock, definition, case, action=action, from_state=from_state, to_state=dest, at=now,
                data=data, typed_data=_TypedData(definition, data),
            )
            answer_timers = _TIMERS_OF.send(conn, {"b_case": case.id}) if with_timers else None
    except DBAPIError:
        if moving is not None and moving.rowcount() == 0:  # it lost the race; the rest failed on the winner's rows
            raise history.stale(case) from None
        raise
    if moving.rowcount() != 1:
        raise history.stale(case)
    try:
        entry = history.inserted(session, row, inserting)
        history.set_head(case, moved)  # the session's Case as the UPDATE left it: no reload, no second UPDATE
        timing.finish(session, clock, definition, case, now)
        if answer_timers is not None:
            _timers_read(session, case, answer_timers)
        extensions.run_effects(session, clock, definition, transition, case, now)
    except BaseException:
        session.expire(case)  # whatever rolls back, the Case must not keep state the database may not
        raise
    observe.moved(session, definition.key, action)
    return entry
