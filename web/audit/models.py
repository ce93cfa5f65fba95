"""The audit area's API models (web/contract.py): the history search, its export, a case as of a moment,
the last verification and the access log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic.json_schema import SkipJsonSchema

from workflow.engine import Clock
from workflow.engine.audit_models import AuditAccess, AuditRun
from workflow.engine.replay import Replayed
from workflow.engine.trail import MAX_NAME, MAX_NUMBER, MAX_PAGE, MAX_Q

from ..api_models import ActionOut, CaseOut, Label, Time, TimerOut, _query_number, absent, iso
from ..contract import Answer, Contract
from .common import MAX_CURSOR, MAX_MOMENT

Name = Annotated[str, Field(max_length=MAX_NAME)] | SkipJsonSchema[None]
Moment = Annotated[str, Field(max_length=MAX_MOMENT)] | SkipJsonSchema[None]


class HistoryQuery(Contract):
    workflow: Name = absent("A workflow key (an unknown one is a 422)")
    number: Annotated[str, Field(max_length=MAX_NUMBER)] | SkipJsonSchema[None] = absent("A case number")
    actor: Name = absent("Who acted (user name)")
    action: Name = absent("The action or notice")
    from_state: Name = absent()
    to_state: Name = absent()
    since: Moment = absent("ISO 8601, inclusive; a date alone is its local midnight")
    until: Moment = absent("ISO 8601, exclusive; not before since")
    q: Annotated[str, Field(max_length=MAX_Q)] | SkipJsonSchema[None] = absent(
        "Text in the comment or the inputs (case-insensitive)")
    order: Literal["asc", "desc"] = Field("asc", description="By time: oldest (asc) or newest (desc) first")
    cursor: Annotated[str, Field(max_length=MAX_CURSOR)] | SkipJsonSchema[None] = absent(
        "next_cursor of the page before; a cursor changed by hand is a 422")
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(_query_number)] = 50


class ExportQuery(HistoryQuery):
    format: Literal["csv", "jsonl"] = "jsonl"


class HistoryRow(Answer):
    id: int
    case_id: int
    number: str | None
    workflow: str
    seq: int
    kind: str
    at: Time
    actor: str
    action: str
    from_: str | None = Field(alias="from")
    to: str
    inputs: dict[str, Any]
    comment: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, clock: Clock, row: dict[str, Any]) -> HistoryRow:
        return cls.model_validate({
            "id": row["id"], "case_id": row["case_id"], "number": row["number"], "workflow": row["workflow_key"],
            "seq": row["seq"], "kind": row["kind"], "at": iso(clock, row["at"]), "actor": row["actor"],
            "action": row["action"], "from": row["from_state"], "to": row["to_state"], "inputs": row["inputs"],
            "comment": row["comment"], "prev_hash": row["prev_hash"], "hash": row["hash"]})


class HistoryPage(Answer):
    items: list[HistoryRow]
    next_cursor: str | None = Field(description="Give it as ?cursor= for the next page; null on the last page")


class CaseQuery(Contract):
    as_of: Moment = absent("ISO 8601: the case as it stood then, replayed from its history")


class CouldActOut(Answer):
    action: str
    label: Label
    to: str
    roles: list[str]
    assignee: str | None
    not_by: str | None = Field(description="The four-eyes rule: who made the last move may not take this step")


class CaseAsOf(CaseOut):
    """A case as it stood at `as_of`: nobody can act in the past, so available_actions is empty; could_act
    says who could have."""

    as_of: Time
    could_act: list[CouldActOut]
    history_rows: int = Field(description="The history rows up to as_of")

    @classmethod
    def of_replay(cls, clock: Clock, r: Replayed, state_label: dict[str, str], name: dict[str, str]) -> CaseAsOf:
        timers = [TimerOut(name=t.name, label=Label(**t.label) if t.label else None,
                           started_at=clock.local(t.started_at).isoformat(),
                           due_at=clock.local(t.due_at).isoformat(), warn_at=iso(clock, t.warn_at),
                           stopped_at=iso(clock, t.stopped_at), status=t.status) for t in r.timers]
        return cls(
            id=r.case_id, number=r.number, name=Label(**name), workflow=r.workflow, version=r.version, state=r.state,
            state_label=Label(**state_label), final=r.final, data=r.data, lock_version=r.lock_version,
            created_by=r.created_by, created_at=clock.local(r.created_at).isoformat(),
            updated_at=clock.local(r.updated_at).isoformat(), available_actions=list[ActionOut](),
            timers=timers, overdue=r.overdue, as_of=clock.local(r.as_of).isoformat(),
            could_act=[CouldActOut(action=c.action, label=Label(**c.label), to=c.to, roles=list(c.roles),
                                   assignee=c.assignee, not_by=c.not_by) for c in r.could_act],
            history_rows=r.last_seq)


class AuditRunOut(Answer):
    finished_at: Time
    run_by: str
    cases_checked: int
    breaks: int
    first_case_id: int | None
    first_seq: int | None
    first_reason: str | None

    @classmethod
    def of(cls, clock: Clock, run: AuditRun) -> AuditRunOut:
        return cls(finished_at=clock.local(run.finished_at).isoformat(), run_by=run.run_by,
                   cases_checked=run.cases_checked, breaks=run.breaks, first_case_id=run.first_case_id,
                   first_seq=run.first_seq, first_reason=run.first_reason)


class LastRun(Answer):
    run: AuditRunOut | None = Field(description="The last full verification; null if none was recorded")


class AccessQuery(Contract):
    cursor: Annotated[str, Field(max_length=MAX_CURSOR)] | SkipJsonSchema[None] = absent()
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(_query_number)] = 50


class AccessOut(Answer):
    at: Time
    actor: str
    kind: str
    case_id: int | None
    detail: str

    @classmethod
    def of(cls, clock: Clock, row: AuditAccess) -> AccessOut:
        return cls(at=clock.local(row.at).isoformat(), actor=row.actor, kind=row.kind, case_id=row.case_id,
                   detail=row.detail)


class AccessPage(Answer):
    items: list[AccessOut]
    next_cursor: str | None
