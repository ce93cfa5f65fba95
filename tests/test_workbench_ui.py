"""The process owners' workbench pages, without JavaScript: the workflows area, the editor's Validate and
Save buttons, the diff with its impact, publishing with a reason, migrating running cases; who sees what."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.engine.drafts import Draft
from workflow.models import Case, Timer, WorkflowVersion

from .test_ui import Person, text_of

OWNER, OWNER2 = "owner", "owner2"


@pytest.fixture
def people(app, staff):
    for name, roles in {
        "lead": ["service_lead"], "director": ["quality_director"], "clerk": ["returns_clerk"],
        OWNER: ["process_owner"], OWNER2: ["process_owner"], "auditor": ["auditor"], "hr": ["hr"],
        "admin": ["admin"], "nobody": ["no_such_role"],
    }.items():
        staff(name, *roles)
    return lambda name, language="en": Person(app, name, language)


def _received_return(lead: Person, director: Person, clerk: Person) -> int:
    """A return case in `received`, where the 48 h inspection timer runs."""
    case_id = lead.open_return()
    assert lead.post(f"/cases/{case_id}/actions/collect_opinions",
                     {"application_ref": "RA-1", "opinions": "ok", "expected_version": 1}).status_code == 302
    assert director.post(f"/cases/{case_id}/actions/approve", {"expected_version": 2}).status_code == 302
    assert clerk.post(f"/cases/{case_id}/actions/receive", {
        "received_quantity": "3", "packaging_intact": "true", "heavy_damage": "false", "rain_wetted": "false",
        "returned_by": "Li", "expected_version": 3}).status_code == 302
    return case_id


def _new_draft(owner: Person, key: str = "return_inspection") -> int:
    owner.get(f"/workflows/{key}")
    response = owner.post(f"/workflows/{key}/drafts")
    assert response.status_code == 302, response.text
    return int(re.search(r"/drafts/(\d+)$", response.headers["Location"]).group(1))


def _drafts() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Draft))


def test_the_workflows_area_shows_versions_diagram_rules_and_templates_to_those_with_a_role(app, people):
    drafts = _drafts()
    lead = people("lead")
    listing = lead.get("/workflows")
    assert listing.status_code == 200
    assert 'data-workflow="return_inspection"' in listing.text
    # The lead holds no appraisal role: that workflow is not theirs to read.
    assert 'data-workflow="appraisal"' not in listing.text
    assert lead.get("/workflows/appraisal").status_code == 404
    page = lead.get("/workflows/return_inspection")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "v1" in text and "tests" in text  # the version and who published it
    assert "<svg" in page.text  # the diagram
    assert "48 hours" in text and "someone takes the step “Receive the returned goods”" in text  # the timer, in words
    assert "Quality director" in text  # roles by their labels
    assert "New draft" not in text  # a service lead edits nothing here
    assert lead.post("/workflows/return_inspection/drafts").status_code == 403
    assert _drafts() == drafts

    hr = people("hr", "zh")
    appraisal = hr.get("/workflows/appraisal")
    assert appraisal.status_code == 200
    assert "考核表模板" in appraisal.text and "现场服务人员月度绩效考核表" in appraisal.text


def test_someone_with_no_role_in_any_workflow_has_no_workflows_area(app, people):
    nobody = people("nobody")
    assert nobody.get("/workflows").status_code == 403
    assert 'href="/workflows"' not in nobody.get("/cases").text


def test_without_javascript_the_editor_validates_at_the_line_and_saves_with_its_author(app, people):
    owner = people(OWNER)
    assert 'href="/workflows"' in owner.get("/cases").text  # the menu entry
    draft_id = _new_draft(owner)
    path = f"/workflows/return_inspection/drafts/{draft_id}"
    page = owner.get(path)
    assert page.status_code == 200 and 'name="source"' in page.text and "<svg" in page.text
    source = db.session.get(Draft, draft_id).source
    assert "duration: 48h" in source

    typo = source.replace("    duration: 48h", "    duraton: 36h", 1)
    line = typo.splitlines().index("    duraton: 36h") + 1
    checked = owner.post(path, {"source": typo, "do": "validate"})
    assert checked.status_code == 200
    assert re.search(rf"Line {line}</a>: <code>unknown_key</code>", checked.text), text_of(checked.text)[:2000]
    db.session.expire_all()
    assert db.session.get(Draft, draft_id).source == source  # validating saves nothing

    fixed = source.replace("duration: 48h", "duration: 36h", 1)
    saved = owner.post(path, {"source": fixed, "do": "save"})
    assert saved.status_code == 302
    db.session.expire_all()
    draft = db.session.get(Draft, draft_id)
    assert draft.source == fixed and draft.author == OWNER

    # Another process owner sees and opens the same draft.
    other = people(OWNER2)
    assert f'data-draft="{draft_id}"' in other.get("/workflows/return_inspection").text
    assert "duration: 36h" in other.get(path).text


def test_the_live_check_answers_problems_and_the_preview_and_saves_nothing(app, people):
    owner = people(OWNER)
    draft_id = _new_draft(owner)
    path = f"/workflows/return_inspection/drafts/{draft_id}/check"
    source = db.session.get(Draft, draft_id).source
    good = owner.post(path, {"source": source.replace("duration: 48h", "duration: 36h", 1)})
    assert good.status_code == 200
    assert good.json["problems"] == [] and good.json["svg"].startswith("<svg")
    assert "⏱ 36 hours" in html.unescape(good.json["svg"])  # the preview in the reader's words
    bad = owner.post(path, {"source": source.replace("  - name: approve", "  - nmae: approve", 1)})
    assert bad.json["svg"] is None and {p["code"] for p in bad.json["problems"]} >= {"unknown_key"}
    assert all(isinstance(p["line"], int) and p["line"] > 1 for p in bad.json["problems"])
    assert owner.post(path, {"source": source}, token=False).status_code == 400  # CSRF, as every form
    db.session.expire_all()
    assert db.session.get(Draft, draft_id).source == source
    assert people("lead").post(path, {"source": source}).status_code == 403


def test_a_draft_that_does_not_parse_or_names_another_workflow_is_refused_and_nothing_changes(app, people):
    owner = people(OWNER)
    draft_id = _new_draft(owner)
    path = f"/workflows/return_inspection/drafts/{draft_id}"
    source = db.session.get(Draft, draft_id).source
    for broken in ("key: [unclosed", source.replace("key: return_inspection", "key: complaint", 1)):
        response = owner.post(path, {"source": broken, "do": "save"})
        assert response.status_code == 422
        assert 'data-testid="message"' in response.text
        db.session.expire_all()
        assert db.session.get(Draft, draft_id).source == source
    too_long = owner.post(path, {"source": "#" * 200_001, "do": "save"})
    assert too_long.status_code in (413, 422)
    assert owner.get("/workflows/return_inspection/drafts/999999").status_code == 404
    assert owner.get(f"/workflows/complaint/drafts/{draft_id}").status_code == 404  # another workflow's draft


def test_upload_and_new_workflow_from_the_template(app, people):
    import io

    drafts = _drafts()
    owner = people(OWNER)
    owner.get("/workflows")
    created = owner.post("/workflows/new", {"key": "warranty_claim"})
    assert created.status_code == 302
    draft = db.session.scalars(
        sa.select(Draft).where(Draft.workflow_key == "warranty_claim").order_by(Draft.id.desc())).first()
    assert draft.source.startswith("key: warranty_claim") and draft.base_version is None
    assert owner.post("/workflows/new", {"key": "Bad Key"}).status_code == 302
    assert owner.post("/workflows/new", {"key": "return_inspection"}).status_code == 302
    assert _drafts() == drafts + 1
    assert people("lead").post("/workflows/new", {"key": "mine"}).status_code == 403

    source = draft.source.replace("New workflow", "Warranty claim")
    owner.get("/workflows/warranty_claim")
    uploaded = owner.post("/workflows/warranty_claim/drafts",
                          {"file": (io.BytesIO(source.encode()), "warranty_claim.yaml")},
                          content_type="multipart/form-data")
    assert uploaded.status_code == 302
    assert _drafts() == drafts + 2
    wrong = owner.post("/workflows/warranty_claim/drafts",
                       {"file": (io.BytesIO(b"\xff\xfe not text"), "x.yaml")}, content_type="multipart/form-data")
    assert wrong.status_code == 302 and _drafts() == drafts + 2


def test_diff_impact_publish_with_a_reason_and_migrate(app, people, frozen_clock):
    lead, director, clerk = people("lead"), people("director"), people("clerk")
    case_id = _received_return(lead, director, clerk)
    timer = db.session.scalars(sa.select(Timer).where(Timer.case_id == case_id, Timer.name == "inspection")).one()
    old_due = timer.due_at

    owner = people(OWNER)
    draft_id = _new_draft(owner)
    base = f"/workflows/return_inspection/drafts/{draft_id}"
    source = db.session.get(Draft, draft_id).source
    assert owner.post(base, {"source": source.replace("duration: 48h", "duration: 36h", 1),
                             "do": "save"}).status_code == 302

    diff = owner.get(f"{base}/diff")
    assert diff.status_code == 200
    text = text_of(diff.text)
    assert "48h → 36h" in text
    assert "1 running timer moves 12 h earlier" in text
    assert 'class="del">-    duration: 48h' in diff.text and 'class="add">+    duration: 36h' in diff.text
    assert "#d97706" in diff.text  # the changed timer's state, marked on the diagram

    versions = db.session.scalar(sa.select(sa.func.count()).select_from(WorkflowVersion))
    refused = owner.post(f"{base}/publish", {"reason": "  "})
    assert refused.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkflowVersion)) == versions
    assert "reason" in text_of(owner.get(refused.headers["Location"]).text).lower()
    assert lead.post(f"{base}/publish", {"reason": "mine"}).status_code == 403

    published = owner.post(f"{base}/publish", {"reason": "003 §2: inspection within 36 hours"})
    assert published.status_code == 302
    assert "/workflows/return_inspection/migrate?from_version=1&to_version=2" in published.headers["Location"]
    new = db.session.scalar(sa.select(WorkflowVersion).where(WorkflowVersion.key == "return_inspection",
                                                             WorkflowVersion.version == 2))
    assert new.reason == "003 §2: inspection within 36 hours" and new.published_by == OWNER
    assert "003 §2: inspection within 36 hours" in owner.get("/workflows/return_inspection").text

    page = owner.get(published.headers["Location"])
    assert page.status_code == 200
    dry = owner.post("/workflows/return_inspection/migrate",
                     {"from_version": "1", "to_version": "2", "do": "dry_run"})
    assert dry.status_code == 200 and "will move" in dry.text
    db.session.expire_all()
    assert db.session.get(Case, case_id).version_id != new.id  # a dry run changes nothing

    done = owner.post("/workflows/return_inspection/migrate", {"from_version": "1", "to_version": "2", "do": "run"})
    assert done.status_code == 200 and "moved" in done.text
    db.session.expire_all()
    assert db.session.get(Case, case_id).version_id == new.id
    timer = db.session.scalars(sa.select(Timer).where(Timer.case_id == case_id, Timer.name == "inspection",
                                                      Timer.status == "running")).one()
    assert (old_due - timer.due_at).total_seconds() == 12 * 3600


def test_migrating_backwards_is_refused_and_changes_nothing(app, people):
    case_id = people("lead").open_return()
    on_v1 = db.session.get(Case, case_id).version_id
    owner = people(OWNER)
    draft_id = _new_draft(owner)
    base = f"/workflows/return_inspection/drafts/{draft_id}"
    source = db.session.get(Draft, draft_id).source
    owner.post(base, {"source": source.replace("duration: 48h", "duration: 36h", 1), "do": "save"})
    owner.post(f"{base}/publish", {"reason": "shorter"})
    owner.get("/workflows/return_inspection/migrate")
    refused = owner.post("/workflows/return_inspection/migrate", {"from_version": "2", "to_version": "1", "do": "run"})
    assert refused.status_code == 422 and 'data-testid="message"' in refused.text
    nowhere = owner.post("/workflows/return_inspection/migrate",
                         {"from_version": "1", "to_version": "2", "map-received": "nowhere", "do": "run"})
    assert nowhere.status_code == 422 and "nowhere" in nowhere.text
    db.session.expire_all()
    assert db.session.get(Case, case_id).version_id == on_v1
    assert people("lead").get("/workflows/return_inspection/migrate").status_code == 403


def test_the_auditor_reads_the_workflows_but_edits_nothing(app, people):
    drafts = _drafts()
    auditor = people("auditor")
    page = auditor.get("/workflows/return_inspection")
    assert page.status_code == 200 and "New draft" not in page.text
    assert auditor.post("/workflows/return_inspection/drafts").status_code == 403
    assert _drafts() == drafts


def test_with_four_eyes_a_second_process_owner_approves_the_publication(app, people):
    app.config["WORKBENCH_FOUR_EYES"] = True
    owner = people(OWNER)
    draft_id = _new_draft(owner)
    base = f"/workflows/return_inspection/drafts/{draft_id}"
    source = db.session.get(Draft, draft_id).source
    owner.post(base, {"source": source.replace("duration: 48h", "duration: 36h", 1), "do": "save"})
    owner.get(f"{base}/diff")
    assert owner.post(f"{base}/publish", {"reason": "36 hours"}).status_code == 302
    assert 'data-testid="approve"' in owner.get(f"{base}/diff").text

    def versions() -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(WorkflowVersion))

    before = versions()
    refused = owner.post(f"{base}/approve")  # not by the one who submitted it
    assert refused.status_code == 302 and versions() == before
    shown = owner.get(refused.headers["Location"]).text
    assert re.search(r'class="notice error"[^>]*>A second process owner must approve the publication', shown)

    second = people(OWNER2)
    second.get(f"{base}/diff")
    assert second.post(f"{base}/approve").status_code == 302
    assert versions() == before + 1
    db.session.expire_all()
    assert db.session.get(Draft, draft_id).approved_by == OWNER2


def test_every_version_downloads_as_bpmn_for_whoever_reads_the_workflow(app, people):
    lead = people("lead")
    response = lead.get("/workflows/return_inspection/bpmn?version=1")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert b"bpmn" in response.data and b"userTask" in response.data
    assert lead.get("/workflows/appraisal/bpmn").status_code == 404
    assert lead.get("/workflows/return_inspection/bpmn?version=9").status_code == 404
