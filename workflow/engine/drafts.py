"""Drafts of workflow definitions: what a process owner edits before it is published as a version.

A draft belongs to one workflow key and is shared by that workflow's process owners. It may hold a
definition with problems (it is work in progress), but never text that is not YAML or that names another
workflow: those are refused when saved, so a draft always says which workflow it changes. Publishing runs
the loader once more and writes a new, immutable WorkflowVersion with the reason; with the four-eyes
setting the draft first waits for a second process owner.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..definitions import Definition
from ..definitions.loader import parse
from ..definitions.schema import TimerSpec, TransitionSpec
from ..models import Base, UTCDateTime, WorkflowVersion, one_of
from . import policy
from .clock import Clock
from .errors import FourEyesRefused, InvalidInputs, NotFound, WrongState
from .policy import Actor
from .publishing import latest_version, publish_definition, workflow_of

# The shipped definitions are 7–16 KB; ten times the largest is room enough, and bounds the parse.
MAX_DRAFT_CHARS = 200_000
MAX_REASON = 2000
MAX_OPEN_DRAFTS = 50  # per workflow: drafts are kept, so their number needs a bound like any input
NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
# Problems that mean the text cannot be kept as a draft of this workflow at all.
UNSAVEABLE = frozenset({"yaml_syntax", "key_mismatch", "too_long", "bad_text"})

OPEN, PENDING, PUBLISHED = "open", "pending", "published"


class Draft(Base):
    """A process owner's draft of the next version of a workflow (or of a new workflow)."""

    __tablename__ = "workflow_drafts"
    __table_args__ = (Index("ix_workflow_drafts_workflow_key", "workflow_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_key: Mapped[str] = mapped_column(String(80))
    author: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(one_of(OPEN, PENDING, PUBLISHED, name="status", length=10))
    base_version: Mapped[int | None] = mapped_column(Integer)  # the version it was started from
    reason: Mapped[str | None] = mapped_column(Text)  # why it is published, once submitted
    submitted_by: Mapped[str | None] = mapped_column(String(80))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(80))  # the second process owner (four-eyes)
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _refuse(field: str, en: str, zh: str) -> InvalidInputs:
    return InvalidInputs(f"Please correct: {field}", f"请更正：{field}", {field: {"en": en, "zh": zh}})


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not NAME.match(key):
        raise NotFound(f"no workflow {key!r}", f"没有流程 {key!r}")


def template_for(key: str) -> str:
    """A small valid definition to start a new workflow from: one role, one field, one step, one timer."""
    _check_key(key)
    return f"""key: {key}
title: {{en: New workflow, zh: 新流程}}

roles:
  handler: {{en: Handler, zh: 经办人}}

fields:
  subject:
    type: string
    required: true
    max: 200
    label: {{en: Subject, zh: 事由}}

states:
  open: {{initial: true, label: {{en: Open, zh: 处理中}}}}
  closed: {{final: true, label: {{en: Closed, zh: 已结案}}}}

transitions:
  - name: close
    from: open
    to: closed
    roles: [handler]
    label: {{en: Close, zh: 结案}}

timers:
  - name: handling
    label: {{en: Close within 3 working days, zh: 3个工作日内结案}}
    start: {{enter: open}}
    stop: {{leave: open}}
    duration: 3wd
    on_expiry:
      notify: [handler]
"""


# -- validation ------------------------------------------------------------------------------------


def _problem(line: int, code: str, message: str) -> dict[str, Any]:
    return {"line": line, "code": code, "message": message}


def check_source(key: str, source: Any) -> tuple[Definition | None, list[dict[str, Any]]]:
    """The definition `source` describes for workflow `key`, or its problems, each with its line and reason."""
    if not isinstance(source, str):
        return None, [_problem(1, "bad_text", "the definition must be text")]
    if len(source) > MAX_DRAFT_CHARS:
        return None, [_problem(1, "too_long", f"the definition is longer than {MAX_DRAFT_CHARS} characters")]
    if "\x00" in source:
        return None, [_problem(1, "bad_text", "the definition holds a NUL character")]
    definition, problems = parse(source, f"{key}.yaml", expected_key=key)
    return definition, [_problem(p.line, p.code, p.message) for p in problems]


def validate_source(key: str, source: Any) -> list[dict[str, Any]]:
    """Every problem of `source` as a definition of workflow `key`; [] when it could be published."""
    _check_key(key)
    return check_source(key, source)[1]


def _refuse_unsaveable(key: str, source: Any) -> None:
    """Refuse text that cannot be a draft of `key` (not YAML, too long, another workflow's key)."""
    problems = [p for p in check_source(key, source)[1] if p["code"] in UNSAVEABLE]
    if problems:
        listed = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:5])
        raise InvalidInputs(f"The draft cannot be saved: {listed}", f"草稿无法保存：{listed}",
                            {"source": {"en": listed, "zh": listed}})


# -- drafts ----------------------------------------------------------------------------------------


def _owned_definition(session: Session, actor: Actor, key: str) -> tuple[WorkflowVersion | None, Definition | None]:
    """The workflow's latest version and definition (None for a new one), once the actor may edit it."""
    _check_key(key)
    latest = latest_version(session, key)
    definition = workflow_of(latest).definition if latest is not None else None
    policy.refuse_unless_process_owner(actor, definition)
    return latest, definition


def list_drafts(session: Session, actor: Actor, key: str) -> list[Draft]:
    _owned_definition(session, actor, key)
    return list(session.scalars(
        select(Draft).where(Draft.workflow_key == key).order_by(Draft.updated_at.desc(), Draft.id.desc())
    ))


def get_draft(session: Session, actor: Actor, key: str, draft_id: int) -> Draft:
    _owned_definition(session, actor, key)
    draft = session.get(Draft, draft_id) if 0 < draft_id <= 2**31 - 1 else None
    if draft is None or draft.workflow_key != key:
        raise NotFound(f"no draft {draft_id} of {key}", f"{key} 没有草稿 {draft_id}")
    return draft


def create_draft(session: Session, actor: Actor, key: str, now: datetime, source: str | None = None) -> Draft:
    """A new draft: `source` as given (an uploaded file), else the latest version's text or the template."""
    latest, _ = _owned_definition(session, actor, key)
    if source is None:
        source = latest.source if latest is not None else template_for(key)
    _refuse_unsaveable(key, source)
    open_drafts = session.scalar(select(func.count()).select_from(Draft).where(
        Draft.workflow_key == key, Draft.status != PUBLISHED)) or 0
    if open_drafts >= MAX_OPEN_DRAFTS:
        raise WrongState(f"{key} has {open_drafts} unpublished drafts already; continue one of them",
                         f"{key} 已有 {open_drafts} 份未发布的草稿，请继续编辑其中一份")
    draft = Draft(workflow_key=key, author=actor.name, source=source, status=OPEN,
                  base_version=latest.version if latest is not None else None, created_at=now, updated_at=now)
    session.add(draft)
    session.flush()
    return draft


def update_draft(session: Session, actor: Actor, key: str, draft_id: int, source: str, now: datetime) -> Draft:
    draft = get_draft(session, actor, key, draft_id)
    _refuse_unless_open(draft)
    _refuse_unsaveable(key, source)
    draft.source, draft.updated_at = source, now
    session.flush()
    return draft


def _refuse_unless_open(draft: Draft) -> None:
    if draft.status != OPEN:
        raise WrongState(f"draft {draft.id} is {draft.status}, no longer editable",
                         f"草稿 {draft.id} 已{'提交审批' if draft.status == PENDING else '发布'}，不能再修改")


def validate_draft(session: Session, actor: Actor, key: str, draft_id: int) -> list[dict[str, Any]]:
    return check_source(key, get_draft(session, actor, key, draft_id).source)[1]


# -- diff ------------------------------------------------------------------------------------------


def _version(session: Session, key: str, number: int | None) -> WorkflowVersion | None:
    if number is None:
        return latest_version(session, key)
    found = session.scalar(select(WorkflowVersion).where(WorkflowVersion.key == key,
                                                         WorkflowVersion.version == number))
    if found is None:
        raise NotFound(f"{key} has no version {number}", f"{key} 没有版本 {number}")
    return found


def yaml_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        old_name, new_name))


def diff_draft(
    session: Session, clock: Clock, actor: Actor, key: str, draft_id: int, against: int | None
) -> dict[str, Any]:
    """The draft against version `against` (default: the latest): YAML diff, structure and impact."""
    from .impact import impact  # impact reads cases and timers; drafts alone need neither

    draft = get_draft(session, actor, key, draft_id)
    base = _version(session, key, against)
    new, _ = check_source(key, draft.source)
    old = workflow_of(base).definition if base is not None else None
    return {
        "against": base.version if base is not None else None,
        "yaml": yaml_diff(base.source if base is not None else "", draft.source,
                          f"{key} v{base.version}" if base is not None else "/dev/null", f"{key} draft {draft.id}"),
        "structure": structural_diff(old, new) if new is not None else None,
        "impact": impact(session, clock, key, base.version, new) if (base is not None and new is not None) else None,
    }


def _sets(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    return sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys()), sorted(old.keys() & new.keys())


def _transition_view(t: TransitionSpec) -> dict[str, Any]:
    return {"from": list(t.sources), "to": t.dest, "roles": list(t.roles), "four_eyes": t.four_eyes,
            "inputs": [i.name for i in t.inputs], "guards": [g.when for g in t.guards]}


def timer_view(spec: TimerSpec) -> dict[str, Any]:
    """What of a timer a process owner compares: its length, its calendar (the duration's unit), its events."""
    return {"duration": str(spec.duration) if spec.duration else None,
            "deadline": str(spec.deadline) if spec.deadline else None,
            "calendar": spec.duration.unit if spec.duration else None,
            "warn_before": str(spec.warn_before) if spec.warn_before else None,
            "start": [f"{e.kind} {e.name}" for e in spec.start], "stop": [f"{e.kind} {e.name}" for e in spec.stop],
            "when": spec.when, "fire": spec.fire}


def _changed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    keys = sorted(old.keys() | new.keys())
    return {k: {"old": old.get(k), "new": new.get(k)} for k in keys if old.get(k) != new.get(k)}


def structural_diff(old: Definition | None, new: Definition) -> dict[str, Any]:
    """States, transitions, roles, timers and fields added, removed and changed from `old` to `new`."""
    o_states = old.states if old else {}
    added, removed, both = _sets(o_states, new.states)
    states = {"added": added, "removed": removed, "changed": [
        {"name": s, "old": _state_view(o_states[s]), "new": _state_view(new.states[s])}
        for s in both if _state_view(o_states[s]) != _state_view(new.states[s])]}
    o_trans = old.transitions if old else {}
    added, removed, both = _sets(o_trans, new.transitions)
    transitions = {"added": added, "removed": removed, "changed": [
        {"name": t, "changes": changes} for t in both
        if (changes := _changed(_transition_view(o_trans[t]), _transition_view(new.transitions[t])))]}
    o_timers = {t.name: t for t in old.timers} if old else {}
    n_timers = {t.name: t for t in new.timers}
    added, removed, both = _sets(o_timers, n_timers)
    timers = {"added": added, "removed": removed, "changed": [
        {"name": t, "old": timer_view(o_timers[t]), "new": timer_view(n_timers[t]),
         "fields": sorted(_changed(timer_view(o_timers[t]), timer_view(n_timers[t])))}
        for t in both if timer_view(o_timers[t]) != timer_view(n_timers[t])]}
    return {"states": states, "transitions": transitions, "timers": timers,
            "roles": _named_diff(old.roles if old else {}, new.roles),
            "fields": _named_diff(old.fields if old else {}, new.fields)}


def _state_view(state: Any) -> dict[str, Any]:
    return {"label": state.label, "initial": state.initial, "final": state.final}


def _named_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    added, removed, both = _sets(old, new)
    # `line` is where it sits in the file, not what it means: moving a field is no change.
    def same(a: Any, b: Any) -> bool:
        return bool(a == b) if not hasattr(a, "line") else _without_line(a) == _without_line(b)
    return {"added": added, "removed": removed, "changed": [n for n in both if not same(old[n], new[n])]}


def _without_line(spec: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(spec).items() if k != "line"}


# -- publishing ------------------------------------------------------------------------------------


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise _refuse("reason", "a reason is required to publish", "发布须填写原因")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise _refuse("reason", f"at most {MAX_REASON} characters of text", f"最多 {MAX_REASON} 个字符")
    return reason.strip()


def _publishable(session: Session, key: str, draft: Draft) -> None:
    """Refuse a draft with problems, or one that is the latest version already (no empty version)."""
    latest = latest_version(session, key)
    if latest is not None and latest.sha256 == hashlib.sha256(draft.source.encode("utf-8")).hexdigest():
        raise WrongState(f"the draft is the same as version {latest.version}: nothing to publish",
                         f"草稿与版本 {latest.version} 相同，无需发布")
    problems = check_source(key, draft.source)[1]
    if problems:
        listed = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:5])
        raise InvalidInputs(f"The draft has {len(problems)} problem(s): {listed}",
                            f"草稿有 {len(problems)} 个问题：{listed}", {"source": {"en": listed, "zh": listed}})


def _outcome(draft: Draft) -> dict[str, Any]:
    return {"status": draft.status, "version": draft.published_version, "draft": draft}


def _publish(session: Session, key: str, draft: Draft, publisher: str, now: datetime) -> dict[str, Any]:
    version, _ = publish_definition(session, draft.source, f"{key}.yaml", publisher, now, expected_key=key,
                                    reason=draft.reason)
    draft.status, draft.published_version, draft.updated_at = PUBLISHED, version.version, now
    session.flush()
    return _outcome(draft)


def publish_draft(
    session: Session, actor: Actor, key: str, draft_id: int, reason: Any, now: datetime, four_eyes: bool = False
) -> dict[str, Any]:
    """Publish the draft as the next version, with its reason; with `four_eyes`, submit it for approval."""
    draft = get_draft(session, actor, key, draft_id)
    clean = _check_reason(reason)
    _refuse_unless_open(draft)
    _publishable(session, key, draft)
    draft.reason, draft.submitted_by, draft.submitted_at = clean, actor.name, now
    if four_eyes:
        draft.status, draft.updated_at = PENDING, now
        session.flush()
        return _outcome(draft)
    return _publish(session, key, draft, actor.name, now)


def approve_draft(session: Session, actor: Actor, key: str, draft_id: int, now: datetime) -> dict[str, Any]:
    """A second process owner approves a submitted draft, which is published at once."""
    draft = get_draft(session, actor, key, draft_id)
    if draft.status != PENDING:
        raise WrongState(f"draft {draft.id} is not waiting for approval", f"草稿 {draft.id} 不在待审批状态")
    if draft.submitted_by == actor.name:
        raise FourEyesRefused("A second process owner must approve the publication",
                              "发布须由另一位流程负责人批准")
    _publishable(session, key, draft)  # the loader may have grown stricter since it was submitted
    draft.approved_by = actor.name
    assert draft.submitted_by is not None
    return _publish(session, key, draft, draft.submitted_by, now)


def versions_of(session: Session, key: str) -> list[WorkflowVersion]:
    """Every published version of `key`, newest first."""
    return list(session.scalars(
        select(WorkflowVersion).where(WorkflowVersion.key == key).order_by(WorkflowVersion.version.desc())
    ))
