"""The API models of the process owners' workbench: drafts, their diff and impact, publishing, migrations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from workflow.appraisal.templates import MAX_REASON as MAX_TEMPLATE_REASON
from workflow.appraisal.templates import MAX_SOURCE as MAX_TEMPLATE_CHARS
from workflow.engine import Clock
from workflow.engine.drafts import MAX_DRAFT_CHARS, MAX_REASON, Draft
from workflow.engine.migration import MAX_MAP
from workflow.models import ScoresheetProposal, ScoresheetVersion, WorkflowVersion

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
    def of(cls, clock: Clock, version: WorkflowVersion | ScoresheetVersion) -> VersionOut:
        """A published version of a definition or of a score-sheet template: both are published alike."""
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


# -- score-sheet templates, published and versioned like definitions ---------------------------------

TemplateSource = Annotated[str, Field(max_length=MAX_TEMPLATE_CHARS, description="The template as YAML")]


class TemplatePath(Contract):
    key: KeyName


class TemplateQuery(Contract):
    version: QueryRowId | None = absent("A published version; default the latest")


class PublishTemplate(Contract):
    source: TemplateSource
    reason: Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_REASON, description="Why it is published")]


class TemplateOut(Answer):
    key: str
    latest: int | None = Field(description="The latest published version; None while only the shipped file exists")
    versions: list[VersionOut]


class TemplateList(Answer):
    items: list[TemplateOut]


class TemplateText(Answer):
    key: str
    version: int | None = Field(description="The version shown; None: the shipped file, not yet published")
    source: str


# -- four-eyes proposals of templates (the WORKBENCH_FOUR_EYES setting) --------------------------------


class ProposalPath(Contract):
    key: KeyName
    proposal_id: RowId


class RejectProposal(Contract):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_REASON, description="Why it is rejected")]


class ProposalOut(Answer):
    id: int
    key: str
    status: Literal["pending", "published", "rejected"]
    base_version: int | None = Field(description="The latest version when proposed; approval is refused (409) "
                                                 "once another version is published")
    sha256: str
    reason: str = Field(description="Why it is to be published")
    proposed_by: str
    proposed_at: Time
    approved_by: str | None
    rejected_by: str | None
    rejection: str | None = Field(description="Why it was rejected")
    decided_at: Time | None
    published_version: int | None

    @classmethod
    def of(cls, clock: Clock, proposal: ScoresheetProposal) -> ProposalOut:
        return cls(
            id=proposal.id, key=proposal.key, status=proposal.status,  # type: ignore[arg-type]
            base_version=proposal.base_version, sha256=proposal.sha256, reason=proposal.reason,
            proposed_by=proposal.proposed_by, proposed_at=iso(clock, proposal.proposed_at) or "",
            approved_by=proposal.approved_by, rejected_by=proposal.rejected_by, rejection=proposal.rejection,
            decided_at=iso(clock, proposal.decided_at), published_version=proposal.published_version,
        )


class ProposalList(Answer):
    items: list[ProposalOut]
