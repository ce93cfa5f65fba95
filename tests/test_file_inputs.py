"""A step's `file` inputs (docs/definitions.md, "File inputs"): uploaded with the step in the web form, or named
by hash in the API's step after an upload to the case; the history row records the file's hash, so the chain
covers the bytes. Every refusal leaves the case's rows and the attachment folder as they were."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from PIL import Image

from web.extensions import db
from workflow.definitions import DefinitionInvalid, values
from workflow.definitions.loader import load_text
from workflow.definitions.schema import FieldSpec
from workflow.engine import Actor, advance, get_case
from workflow.engine.audit import verify_all
from workflow.engine.errors import InvalidInputs
from workflow.models import HistoryEntry

from .conftest import snapshot
from .helpers import minimal_text, publish_minimal
from .test_paths_return_inspection import reach
from .test_ui import Person, fresh

SHIPPED = Path(__file__).parent.parent / "workflow" / "definitions" / "return_inspection.yaml"
EXCHANGED = "exchanged_after_the_customer_disputes_the_record"
INSPECTION = "record_inspection"
PHOTOS = "inspection_photos"
RESULT = {"inspection_result": "Two units scratched; the rest as new."}
LIMIT = 64 * 1024


@pytest.fixture
def attachment_dir(app, tmp_path):
    folder = tmp_path / "attachments"
    app.config.update(ATTACHMENT_DIR=str(folder), ATTACHMENT_MAX_BYTES=LIMIT)
    return folder


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def stored(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def chain_ok(app) -> None:
    db.session.expire_all()
    checked, breaks = verify_all(db.session, app.extensions["workflow_clock"])
    assert checked > 0 and breaks == []


def field_message(page: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}-msg" class="field-error">([^<]+)<', page)
    assert found, f"no message next to {field_id}"
    return found.group(1)


def step_rows(case_id: int, action: str) -> list[HistoryEntry]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(HistoryEntry).where(
        HistoryEntry.case_id == case_id, HistoryEntry.action == action)))


@pytest.fixture
def received(api, attachment_dir) -> dict[str, Any]:
    """A return whose goods arrived: FG QA records the inspection next."""
    return reach(api, EXCHANGED, "received")


def as_person(app, staff, name: str, role: str) -> Person:
    staff(name, role)
    return Person(app, name)


def inspect_by_form(person: Person, case_id: int, content: bytes, name: str = "photo.png"):
    person.get(f"/cases/{case_id}/actions/{INSPECTION}")
    return person.post(f"/cases/{case_id}/actions/{INSPECTION}",
                       {**RESULT, PHOTOS: (io.BytesIO(content), name)}, content_type="multipart/form-data")


# -- the definition format ------------------------------------------------------------------------------


def test_a_file_input_declares_its_types_and_the_shipped_inspection_asks_for_photos():
    definition = load_text(SHIPPED.read_text("utf-8"), expected_key="return_inspection")
    photos = next(i for i in definition.transitions[INSPECTION].inputs if i.name == PHOTOS)
    assert (photos.spec.type, photos.required) == ("file", False)
    assert photos.spec.accept == ("image/png", "image/jpeg", "application/pdf")


@pytest.mark.parametrize("field, expected", [
    ("{type: string, accept: [image/png], label: {en: A, zh: 甲}}", "only a file field has accept"),
    ("{type: file, accept: [png], label: {en: A, zh: 甲}}", "accept is a list of types"),
    ("{type: file, max: 1.5, label: {en: A, zh: 甲}}", "does not fit a file field"),
])
def test_a_broken_file_field_is_refused_with_its_reason(field, expected):
    text = minimal_text(**{"fields:\n": f"fields:\n  scan: {field}\n"})
    with pytest.raises(DefinitionInvalid) as refused:
        load_text(text, "minimal.yaml", "minimal")
    assert expected in str(refused.value)


def test_a_file_value_is_a_reference_within_the_field_s_types_and_size():
    spec = FieldSpec(name="scan", type="file", label={"en": "Scan", "zh": "扫描件"}, max=1000,
                     accept=("application/pdf",))
    record = {"sha256": "a" * 64, "name": "form.pdf", "type": "application/pdf", "size": 1000}
    assert values.coerce(spec, record, None) == record  # type: ignore[arg-type]
    for bad, said in [({**record, "type": "image/png"}, "must be a file of type application/pdf"),
                      ({**record, "size": 1001}, "size in bytes must be at most 1000"),
                      ({**record, "sha256": "../x"}, "must be a file"),
                      ("a" * 64, "must be a file"), ({**record, "extra": 1}, "must be a file")]:
        with pytest.raises(values.InvalidValue) as refused:
            values.coerce(spec, bad, None)  # type: ignore[arg-type]
        assert said in refused.value.messages["en"]


# -- the web form: the file goes with the step, in one request ------------------------------------------


def test_the_step_form_uploads_the_file_with_the_step_and_the_chain_covers_it(app, staff, received, attachment_dir):
    qa = as_person(app, staff, "qa", "fg_qa")
    page = qa.get(f"/cases/{received['id']}/actions/{INSPECTION}").text
    assert 'enctype="multipart/form-data"' in page
    assert re.search(rf'name="{PHOTOS}" type="file"[^>]*accept="image/png,image/jpeg,application/pdf"', page)
    photo = png()
    digest = hashlib.sha256(photo).hexdigest()
    response = inspect_by_form(qa, received["id"], photo, "../scratches.png")
    assert response.status_code == 302, response.text
    assert fresh(received["id"]).state == "inspected"
    [row] = step_rows(received["id"], INSPECTION)
    assert row.inputs[PHOTOS] == {"sha256": digest, "name": "scratches.png", "type": "image/png", "size": len(photo)}
    assert (attachment_dir / digest[:2] / digest).read_bytes() == photo
    chain_ok(app)
    case_page = qa.get(f"/cases/{received['id']}").text
    assert f"/cases/{received['id']}/files/{digest}/thumbnail.png" in case_page
    assert f'href="/cases/{received["id"]}/files/{digest}" download>scratches.png</a>' in case_page
    assert '"sha256"' not in case_page  # never the raw record
    assert qa.get(f"/cases/{received['id']}/files/{digest}").data == photo
    printed = qa.get(f"/cases/{received['id']}/print").text
    assert f"scratches.png (SHA-256 {digest[:16]}" in printed and '"sha256"' not in printed


@pytest.mark.parametrize("content, name, expected", [
    (b"plain words, not a photo", "notes.txt", "not accepted (text/plain)"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * LIMIT, "huge.png", f"at most {LIMIT:,}"),
])
def test_a_refused_file_is_reported_next_to_its_input_and_nothing_is_stored(
        app, staff, received, attachment_dir, content, name, expected):
    qa = as_person(app, staff, "qa", "fg_qa")
    before = snapshot(received["id"])
    response = inspect_by_form(qa, received["id"], content, name)
    assert response.status_code == 422
    assert expected in field_message(response.text, f"{INSPECTION}-{PHOTOS}")
    assert RESULT["inspection_result"] in response.text  # what was typed is kept
    assert snapshot(received["id"]) == before
    assert stored(attachment_dir) == []


def test_a_step_refused_after_its_file_was_accepted_leaves_no_file(app, staff, received, attachment_dir):
    qa = as_person(app, staff, "qa", "fg_qa")
    before = snapshot(received["id"])
    qa.get(f"/cases/{received['id']}/actions/{INSPECTION}")
    response = qa.post(f"/cases/{received['id']}/actions/{INSPECTION}",
                       {PHOTOS: (io.BytesIO(png()), "ok.png")}, content_type="multipart/form-data")
    assert response.status_code == 422  # the inspection record itself is missing
    assert snapshot(received["id"]) == before
    assert stored(attachment_dir) == []


def test_someone_without_the_step_s_role_is_refused_and_nothing_is_stored(app, staff, received, attachment_dir):
    lead = as_person(app, staff, "lead", "service_lead")
    before = snapshot(received["id"])
    lead.get(f"/cases/{received['id']}")
    response = lead.post(f"/cases/{received['id']}/actions/{INSPECTION}",
                         {**RESULT, PHOTOS: (io.BytesIO(png()), "p.png")}, content_type="multipart/form-data")
    assert response.status_code == 403
    assert snapshot(received["id"]) == before
    assert stored(attachment_dir) == []


# -- the API: upload to the case, then name the file in the step ----------------------------------------


def upload(api, user: str, case_id: int, content: bytes, name: str = "photo.png"):
    return api.client.post(f"/api/v1/cases/{case_id}/attachments", headers=api.headers(user),
                           data={"file": (io.BytesIO(content), name), "note": "from the dock"},
                           content_type="multipart/form-data")


def test_the_api_uploads_a_file_and_the_step_names_it_by_hash(app, api, received, attachment_dir):
    photo = png()
    answer = upload(api, "fg_qa", received["id"], photo)
    assert answer.status_code == 201, answer.get_json()
    reference = answer.get_json()
    assert (reference["sha256"], reference["type"], reference["size"]) == (
        hashlib.sha256(photo).hexdigest(), "image/png", len(photo))
    moved = api.act("fg_qa", received, INSPECTION, {**RESULT, PHOTOS: reference["sha256"]})
    assert moved["state"] == "inspected"
    [row] = step_rows(received["id"], INSPECTION)
    assert row.inputs[PHOTOS] == {k: reference[k] for k in ("sha256", "name", "type", "size")}
    chain_ok(app)


def test_the_api_refuses_a_hash_the_case_does_not_record(api, received, attachment_dir):
    other = reach(api, EXCHANGED, "received")
    elsewhere = upload(api, "fg_qa", other["id"], png()).get_json()["sha256"]
    before = snapshot(received["id"])
    for given in (elsewhere, {"sha256": elsewhere, "name": "x.png", "type": "image/png", "size": 1}, "0" * 64):
        response = api.post("fg_qa", f"/api/v1/cases/{received['id']}/actions/{INSPECTION}",
                            {"inputs": {**RESULT, PHOTOS: given}, "expected_version": received["lock_version"]})
        assert response.status_code == 422
        assert set(response.get_json()["error"]["fields"]) == {PHOTOS}
    assert snapshot(received["id"]) == before


def test_the_engine_itself_refuses_another_case_s_file_whoever_calls_it(app, api, received, attachment_dir, clock):
    """Not only the API: `advance` (as a CLI or any later caller would use it) checks what a file input cites."""
    other = reach(api, EXCHANGED, "received")
    record = upload(api, "fg_qa", other["id"], png()).get_json()
    forged = {k: record[k] for k in ("sha256", "name", "type", "size")}  # a well-formed record of a file elsewhere
    before = snapshot(received["id"])
    case = get_case(db.session, received["id"])
    with pytest.raises(InvalidInputs) as refused:
        advance(db.session, clock, case, INSPECTION, Actor("fg_qa", frozenset({"fg_qa"})), {**RESULT, PHOTOS: forged})
    assert set(refused.value.fields) == {PHOTOS}
    db.session.rollback()
    assert snapshot(received["id"]) == before


@pytest.mark.parametrize("content, expected", [
    (b"MZ\x90\x00" + b"\x00" * 64, "not accepted"),
    (b"\xff\xd8\xff" + b"\x00" * LIMIT, f"at most {LIMIT:,}"),
    (b"", "or it is empty"),
])
def test_a_refused_upload_stores_nothing(api, received, attachment_dir, content, expected):
    before = snapshot(received["id"])
    response = upload(api, "fg_qa", received["id"], content)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert expected in error["fields"]["file"]
    assert snapshot(received["id"]) == before
    assert stored(attachment_dir) == []


def test_an_upload_with_its_note_sent_twice_is_a_400_in_the_api_s_own_error_shape(api, received, attachment_dir):
    """Found by the drills: SpecTree's own list of pydantic errors came back for a repeated form field."""
    before = snapshot(received["id"])
    response = api.client.post(
        f"/api/v1/cases/{received['id']}/attachments", headers=api.headers("fg_qa"), content_type="multipart/form-data",
        data={"file": (io.BytesIO(png()), "photo.png"), "note": ["one", "two"]})
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"error"} and "note" in body["error"]["fields"], body
    assert snapshot(received["id"]) == before
    assert stored(attachment_dir) == []


def test_the_api_refuses_the_step_to_someone_without_its_role_and_stores_nothing_of_it(api, received, attachment_dir):
    digest = upload(api, "fg_qa", received["id"], png()).get_json()["sha256"]
    before = snapshot(received["id"])
    response = api.post("service_lead", f"/api/v1/cases/{received['id']}/actions/{INSPECTION}",
                        {"inputs": {**RESULT, PHOTOS: digest}, "expected_version": received["lock_version"]})
    assert (response.status_code, response.get_json()["error"]["code"]) == (403, "role_refused")
    assert snapshot(received["id"]) == before


def test_the_upload_is_described_in_the_openapi_document(api):
    document = api.client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/cases/{case_id}/attachments"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"201", "403", "404", "422"} <= set(operation["responses"])


# -- a required file field of the case: enforced by the engine, shown as a link ---------------------------

SIGNED = """  signed_form:
    type: file
    accept: [application/pdf, image/png]
    max: 50000
    label: {en: Signed form, zh: 签字表}
"""


@pytest.fixture
def minimal_with_file(clock):
    text = minimal_text(**{
        "fields:\n": "fields:\n" + SIGNED,
        "    roles: [manager]\n    label: {en: Approve, zh: 批准}\n":
            "    roles: [manager]\n    label: {en: Approve, zh: 批准}\n    inputs:\n      - field: signed_form\n",
    })
    return publish_minimal(clock, text)


def test_a_required_file_field_is_enforced_and_shown_as_a_link(app, api, staff, minimal_with_file, attachment_dir):
    api.user("clerk", "clerk")
    case = api.open("clerk", "minimal", {"amount": "100"})
    case = api.act("clerk", case, "submit")
    missing = api.post("manager", f"/api/v1/cases/{case['id']}/actions/approve",
                       {"inputs": {}, "expected_version": case["lock_version"]})
    assert (missing.status_code, missing.get_json()["error"]["fields"]) == (422, {"signed_form": "is required"})
    form = b"%PDF-1.4\n% signed by the customer\n"
    digest = upload(api, "manager", case["id"], form, "signed.pdf").get_json()["sha256"]
    approved = api.act("manager", case, "approve", {"signed_form": digest})
    assert approved["data"]["signed_form"] == {"sha256": digest, "name": "signed.pdf", "type": "application/pdf",
                                               "size": len(form)}
    chain_ok(app)
    page = as_person(app, staff, "boss", "manager").get(f"/cases/{case['id']}").text
    assert re.search(r'data-field="signed_form">\s*<span class="file-value"', page)
    assert f'/cases/{case["id"]}/files/{digest}" download>signed.pdf</a>' in page
