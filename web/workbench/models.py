"""The API models of the process owners' workbench: drafts, their diff and impact, publishing, migrations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from workflow.engine import Clock
from workflow.engine.drafts import MAX_DRAFT_CHARS, MAX_REASON, Draft
from workflow.engine.migration import MAX_MAP
from workflow.models import WorkflowVersion

from ..api_models import QueryRowId, RowId, Time, absent, iso
from ..contract import Answer, Contract

KeyName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=80, description="A workflow key")]
StateName = Annotated[str, Field(min_length=1, max_length=80)]
Source = Annotated[str, Field(max_length=MAX_DRAFT_CHARS, description="The definition as YAML")]


class KeyPath(Contract):
    key: KeyName


class DraftPath(Contract):
    key: KeyName
    draft_id: RowId


class NewDraft(Contract):
    source: Source | None = Field(None, description="YAML (an uploaded file's text); default: a copy of the latest "
                                                    "version, or the new-workflow template")


class SaveDraft(Contract):
    source: Source


class Publish(Contract):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON, description="Why it is published")]


class DiffQuery(Contract):
    against: QueryRowId | None = absent("The version to compare with; default the latest")


class BpmnQuery(Contract):
    version: QueryRowId | None = absent("A published version; default the latest")


class Migrate(Contract):
    from_version: RowId
    to_version: RowId
    state_map: dict[StateName, StateName] = Field(default_factory=dict, max_length=MAX_MAP,
                                                  description="state of from_version -> state of to_version; "
                                                              "identity by name where absent")
    dry_run: bool = Field(True, description="Only plan (the default): nothing is written")
    batch_size: int = Field(100, ge=1, le=1000, description="Cases per transaction")


class DraftOut(Answer):
    id: int
    workflow_key: str
    author: str
    status: Literal["open", "pending", "published"]
    created_at: Time
    updated_at: Time
    base_version: int | None
    reason: str | None
    submitted_by: str | None
    approved_by: str | None
    published_version: int | None
    source: str

    @classmethod
    def of(cls, clock: Clock, draft: Draft) -> DraftOut:
        return cls(
            id=draft.id, workflow_key=draft.workflow_key, author=draft.author, status=draft.status,  # type: ignore[arg-type]
            created_at=iso(clock, draft.created_at) or "", updated_at=iso(clock, draft.updated_at) or "",
            base_version=draft.base_version, reason=draft.reason, submitted_by=draft.submitted_by,
            approved_by=draft.approved_by, published_version=draft.published_version, source=draft.source,
        )


class DraftList(Answer):
    items: list[DraftOut]


class Problem(Answer):
    line: int
    code: str
    message: str


class Validation(Answer):
    valid: bool
    problems: list[Problem]


class Diff(Answer):
    against: int | None
    yaml: str = Field(description="Unified diff of the YAML")
    structure: dict[str, Any] | None = Field(description="States, transitions, roles, timers, fields: added, "
                                                         "removed, changed (None while the draft has problems)")
    impact: dict[str, Any] | None = Field(description="Running cases per state, in removed states, timers moved")


class Published(Answer):
    status: Literal["open", "pending", "published"]
    version: int | None


class VersionOut(Answer):
    version: int
    published_by: str
    published_at: Time
    reason: str | None
    sha256: str

    @classmethod
    def of(cls, clock: Clock, version: WorkflowVersion) -> VersionOut:
        return cls(version=version.version, published_by=version.published_by,
                   published_at=iso(clock, version.published_at) or "", reason=version.reason, sha256=version.sha256)


class VersionList(Answer):
    items: list[VersionOut]


class Migration(Answer):
    key: str
    from_version: int
    to_version: int
    dry_run: bool
    state_map: dict[str, str]
    cases: list[dict[str, Any]] = Field(description="Per case: case_id, number, from_state, to_state, outcome "
                                                    "(migrate|migrated|invalid|stale), problems, timers")
    counts: dict[str, int]
