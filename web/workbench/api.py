"""JSON API of the process owners' workbench: drafts, validation, diff and impact, publishing, migration of
running cases, BPMN export. Every rule is the engine's (workflow/engine/drafts.py, migration.py, policy.py)."""

from __future__ import annotations

from flask import Response, current_app, g

from workflow import bpmn
from workflow.appraisal import templates as sheet_templates
from workflow.engine import drafts, migration, policy
from workflow.engine.errors import NotFound
from workflow.engine.publishing import workflow_of

from ..api import _version, bp
from ..contract import operation
from ..extensions import clock, db_session
from .models import (
    BpmnQuery,
    Diff,
    DiffQuery,
    DraftList,
    DraftOut,
    DraftPath,
    KeyPath,
    Migrate,
    Migration,
    NewDraft,
    ProposalList,
    ProposalOut,
    ProposalPath,
    Publish,
    Published,
    PublishTemplate,
    RejectProposal,
    SaveDraft,
    TemplateList,
    TemplateOut,
    TemplatePath,
    TemplateQuery,
    TemplateText,
    Validation,
    VersionList,
    VersionOut,
)


def _four_eyes() -> bool:
    return bool(current_app.config.get("WORKBENCH_FOUR_EYES", False))


@bp.get("/workflows/<key>/versions")
@operation(answer=VersionList, path=KeyPath, errors=(403, 404))
def list_versions(key: str) -> VersionList:
    """Every published version of a workflow: who published it, when and why"""
    version = _version(key, None)
    if not policy.may_view_workflow(g.actor, workflow_of(version).definition):
        raise NotFound(f"no workflow {key!r}", f"没有流程 {key!r}")
    return VersionList(items=[VersionOut.of(clock(), v) for v in drafts.versions_of(db_session(), key)])


@bp.get("/workflows/<key>/drafts")
@operation(answer=DraftList, path=KeyPath, errors=(403, 404))
def list_drafts(key: str) -> DraftList:
    """The drafts of a workflow, newest first (its process owners)"""
    return DraftList(items=[DraftOut.of(clock(), d) for d in drafts.list_drafts(db_session(), g.actor, key)])


@bp.post("/workflows/<key>/drafts")
@operation(answer=DraftOut, status=201, path=KeyPath, body=NewDraft, errors=(403, 404, 422))
def create_draft(key: str, json: NewDraft) -> tuple[DraftOut, int]:
    """Start a draft: from the given YAML (an upload), else the latest version, else the new-workflow template"""
    draft = drafts.create_draft(db_session(), g.actor, key, clock().now(), json.source)
    answer = DraftOut.of(clock(), draft)
    db_session().commit()
    return answer, 201


@bp.get("/workflows/<key>/drafts/<id:draft_id>")
@operation(answer=DraftOut, path=DraftPath, errors=(403, 404))
def show_draft(key: str, draft_id: int) -> DraftOut:
    """One draft with its YAML"""
    return DraftOut.of(clock(), drafts.get_draft(db_session(), g.actor, key, draft_id))


@bp.put("/workflows/<key>/drafts/<id:draft_id>")
@operation(answer=DraftOut, path=DraftPath, body=SaveDraft, errors=(403, 404, 409, 422))
def save_draft(key: str, draft_id: int, json: SaveDraft) -> DraftOut:
    """Save a draft's YAML (refused when it is not YAML or names another workflow)"""
    draft = drafts.update_draft(db_session(), g.actor, key, draft_id, json.source, clock().now())
    answer = DraftOut.of(clock(), draft)
    db_session().commit()
    return answer


def _validation(problems: list[dict[str, object]]) -> Validation:
    return Validation.model_validate({"valid": not problems, "problems": problems})


@bp.post("/workflows/<key>/drafts/<id:draft_id>/validate")
@operation(answer=Validation, path=DraftPath, errors=(403, 404))
def validate_draft(key: str, draft_id: int) -> Validation:
    """Every problem of a draft, with its line and reason"""
    return _validation(drafts.validate_draft(db_session(), g.actor, key, draft_id))


@bp.post("/workflows/<key>/validate")
@operation(answer=Validation, path=KeyPath, body=SaveDraft, errors=(403, 404))
def validate_text(key: str, json: SaveDraft) -> Validation:
    """Every problem of a YAML text as a definition of this workflow, without saving it (as one types)"""
    drafts.list_drafts(db_session(), g.actor, key)  # the process owners' question, asked once
    return _validation(drafts.validate_source(key, json.source))


@bp.get("/workflows/<key>/drafts/<id:draft_id>/diff")
@operation(answer=Diff, path=DraftPath, query=DiffQuery, errors=(403, 404))
def diff_draft(key: str, draft_id: int, query: DiffQuery) -> Diff:
    """A draft against a version: YAML diff, structural diff and the impact on running cases"""
    result = drafts.diff_draft(db_session(), clock(), g.actor, key, draft_id, query.against)
    return Diff.model_validate(result)


@bp.post("/workflows/<key>/drafts/<id:draft_id>/publish")
@operation(answer=Published, path=DraftPath, body=Publish, errors=(403, 404, 409, 422))
def publish_draft(key: str, draft_id: int, json: Publish) -> Published:
    """Publish a draft as the next version, with a reason (or submit it for a second owner's approval)"""
    outcome = drafts.publish_draft(db_session(), g.actor, key, draft_id, json.reason, clock().now(), _four_eyes())
    db_session().commit()
    return Published(status=outcome["status"], version=outcome["version"])


@bp.post("/workflows/<key>/drafts/<id:draft_id>/approve")
@operation(answer=Published, path=DraftPath, errors=(403, 404, 409, 422))
def approve_draft(key: str, draft_id: int) -> Published:
    """A second process owner approves a submitted draft, which is published"""
    outcome = drafts.approve_draft(db_session(), g.actor, key, draft_id, clock().now())
    db_session().commit()
    return Published(status=outcome["status"], version=outcome["version"])


@bp.post("/workflows/<key>/migrations")
@operation(answer=Migration, path=KeyPath, body=Migrate, errors=(403, 404, 409, 422))
def migrate(key: str, json: Migrate) -> Migration:
    """Move the running cases of a version to a later one: the per-case plan (dry run) or the result"""
    if json.dry_run:
        result = migration.plan_migration(db_session(), clock(), key, json.from_version, json.to_version,
                                          json.state_map, actor=g.actor)
    else:
        result = migration.run_migration(db_session(), clock(), g.actor, key, json.from_version, json.to_version,
                                         json.state_map, batch_size=json.batch_size,
                                         after_batch=db_session().commit)
        db_session().commit()
    return Migration.model_validate(result)


@bp.get("/workflows/<key>/bpmn")
@operation(path=KeyPath, query=BpmnQuery, errors=(404,), media="application/xml")
def export_bpmn(key: str, query: BpmnQuery) -> Response:
    """A version as BPMN 2.0 XML, with its diagram (opens laid out in bpmn.io or Camunda Modeler)"""
    version = _version(key, query.version)
    definition = workflow_of(version).definition
    if not policy.may_view_workflow(g.actor, definition):
        raise NotFound(f"no workflow {key!r}", f"没有流程 {key!r}")
    return Response(bpmn.to_bpmn(definition, version.version), mimetype="application/xml", headers={
        "Content-Disposition": f"attachment; filename={key}-v{version.version}.bpmn"})


# -- score-sheet templates -------------------------------------------------------------------------


def _template_out(key: str) -> TemplateOut:
    versions = sheet_templates.versions_of(db_session(), key)
    return TemplateOut(key=key, latest=versions[0].version if versions else None,
                       versions=[VersionOut.of(clock(), v) for v in versions])


@bp.get("/scoresheets")
@operation(answer=TemplateList, errors=(404,))
def list_scoresheets() -> TemplateList:
    """Every score-sheet template with its published versions: who published each, when and why"""
    sheet_templates.refuse_unless_reader(db_session(), g.actor)
    return TemplateList(items=[_template_out(key) for key in sheet_templates.template_keys(db_session())])


@bp.get("/scoresheets/<key>")
@operation(answer=TemplateText, path=TemplatePath, query=TemplateQuery, errors=(404,))
def show_scoresheet(key: str, query: TemplateQuery) -> TemplateText:
    """One template's YAML: a published version (default the latest; the shipped file before any is published)"""
    sheet_templates.refuse_unless_reader(db_session(), g.actor)
    number, source = sheet_templates.text_of(db_session(), key, query.version)
    return TemplateText(key=key, version=number, source=source)


@bp.post("/scoresheets/<key>/versions")
@operation(answer=VersionOut, status=201, path=TemplatePath, body=PublishTemplate,
           errors=(403, 404, 409, 422))
def publish_scoresheet(key: str, json: PublishTemplate) -> tuple[VersionOut, int]:
    """Publish an edited template as its next version, with a reason (a process owner of the appraisal; with
    the four-eyes setting refused: propose it instead)"""
    version = sheet_templates.publish_edited(db_session(), g.actor, key, json.source, json.reason, clock().now(),
                                             _four_eyes())
    answer = VersionOut.of(clock(), version)
    db_session().commit()
    return answer, 201


@bp.get("/scoresheets/<key>/proposals")
@operation(answer=ProposalList, path=TemplatePath, errors=(404,))
def list_proposals(key: str) -> ProposalList:
    """The versions proposed for a template under four-eyes publishing, newest first: waiting, published, rejected"""
    sheet_templates.refuse_unless_reader(db_session(), g.actor)
    sheet_templates.known(db_session(), key)
    return ProposalList(items=[ProposalOut.of(clock(), p) for p in sheet_templates.proposals_of(db_session(), key)])


@bp.post("/scoresheets/<key>/proposals")
@operation(answer=ProposalOut, status=201, path=TemplatePath, body=PublishTemplate, errors=(403, 404, 409, 422))
def propose_scoresheet(key: str, json: PublishTemplate) -> tuple[ProposalOut, int]:
    """Propose an edited template as its next version, with a reason; a second process owner approves it"""
    proposal = sheet_templates.propose(db_session(), g.actor, key, json.source, json.reason, clock().now())
    answer = ProposalOut.of(clock(), proposal)
    db_session().commit()
    return answer, 201


@bp.post("/scoresheets/<key>/proposals/<id:proposal_id>/approval")
@operation(answer=ProposalOut, path=ProposalPath, errors=(403, 404, 409, 422))
def approve_proposal(key: str, proposal_id: int) -> ProposalOut:
    """Another process owner approves a proposal: it is published (409 when a later version was published since)"""
    proposal = sheet_templates.approve(db_session(), g.actor, key, proposal_id, clock().now())
    answer = ProposalOut.of(clock(), proposal)
    db_session().commit()
    return answer


@bp.post("/scoresheets/<key>/proposals/<id:proposal_id>/rejection")
@operation(answer=ProposalOut, path=ProposalPath, body=RejectProposal, errors=(403, 404, 409, 422))
def reject_proposal(key: str, proposal_id: int, json: RejectProposal) -> ProposalOut:
    """A process owner rejects a proposal, with a reason; nothing is published"""
    proposal = sheet_templates.reject(db_session(), g.actor, key, proposal_id, json.reason, clock().now())
    answer = ProposalOut.of(clock(), proposal)
    db_session().commit()
    return answer
