"""The staff desk through the UI: assigning cases, notes with @mentions, attachments, printable records.

Each refusal is checked for its message next to the field and for nothing stored (the case's rows, the
notifications and the attachment folder as they were)."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from web.extensions import db
from workflow.engine import notifications as notes
from workflow.engine.audit import verify_all
from workflow.models import HistoryEntry, Notification, User

from .conftest import snapshot
from .test_ui import Person, fresh, text_of


@pytest.fixture
def people(app, staff):
    for name, roles in {
        "lead": ["service_lead"], "lead2": ["service_lead"], "director": ["quality_director"],
        "clerk": ["returns_clerk"], "qa": ["fg_qa"], "auditor": ["auditor"],
    }.items():
        staff(name, *roles)
    return lambda name, language="en": Person(app, name, language)


@pytest.fixture
def attachment_dir(app, tmp_path):
    folder = tmp_path / "attachments"
    app.config.update(ATTACHMENT_DIR=str(folder), ATTACHMENT_MAX_BYTES=64 * 1024)
    return folder


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def notifications(kind: str) -> list[tuple[str, int | None]]:
    db.session.expire_all()
    return list(db.session.execute(
        sa.select(User.name, Notification.case_id).join(User, User.id == Notification.user_id)
        .where(Notification.kind == kind).order_by(User.name)))


def chain_breaks(person: Person) -> list:
    """`audit verify` over every case: the desk's rows keep the chains and the cases' data whole."""
    db.session.expire_all()
    checked, breaks = verify_all(db.session, person.client.application.extensions["workflow_clock"])
    assert checked > 0
    return breaks


def field_message(page: str, field: str) -> str:
    found = re.search(rf'id="{field}-msg" class="field-error">([^<]+)<', page)
    assert found, f"no message next to {field}"
    return found.group(1)


# -- ownership ------------------------------------------------------------------------------------


def test_a_lead_assigns_a_case_to_themselves_and_it_shows_under_mine(people):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    response = lead.post(f"/cases/{case_id}/assignee", {"assignee": "@me"})
    assert response.status_code == 302
    assert fresh(case_id).assignee == "lead"
    row = db.session.scalar(sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id,
                                                          HistoryEntry.kind == "assignment"))
    assert (row.actor, row.action, row.inputs) == ("lead", "assign", {"assignee": "lead", "previous": None})
    assert chain_breaks(lead) == []
    mine = lead.get("/?view=mine").text
    assert f'data-case="{case_id}"' in mine
    lead2 = people("lead2")
    assert f'data-case="{case_id}"' not in lead2.get("/?view=mine").text
    assert f'data-case="{case_id}"' in lead2.get("/?view=team").text
    assert f'data-case="{case_id}"' not in lead2.get("/?view=unassigned").text


def test_assigning_to_a_colleague_notifies_them_and_unassigning_is_recorded(people):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    assert lead.post(f"/cases/{case_id}/assignee", {"assignee": "lead2"}).status_code == 302
    assert notifications("assignment") == [("lead2", case_id)]
    assert "Assigned to lead2" in text_of(people("lead2").get(f"/cases/{case_id}").text)
    assert lead.post(f"/cases/{case_id}/assignee", {"assignee": ""}).status_code == 302
    assert fresh(case_id).assignee is None
    actions = db.session.scalars(sa.select(HistoryEntry.action).where(
        HistoryEntry.case_id == case_id, HistoryEntry.kind == "assignment").order_by(HistoryEntry.seq)).all()
    assert actions == ["assign", "unassign"]


def test_a_warning_goes_to_the_assignee_alone_and_an_overdue_notice_to_them_first_then_the_role(people, clock):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    assert lead.post(f"/cases/{case_id}/assignee", {"assignee": "lead2"}).status_code == 302
    case = fresh(case_id)
    message = {"en": "x", "zh": "x"}
    warned = notes.notify(db.session, ["service_lead"], case=case, kind="warning", message=message, at=clock.now())
    overdue = notes.notify(db.session, ["service_lead"], case=case, kind="overdue", message=message, at=clock.now())
    names = dict(db.session.execute(sa.select(User.id, User.name)).all())
    assert [names[n.user_id] for n in warned] == ["lead2"]
    assert [names[n.user_id] for n in overdue] == ["lead2", "lead"]
    db.session.rollback()


@pytest.mark.parametrize("who, expected", [("clerk", "does not hold a role"), ("nobody", "no active user")])
def test_assigning_to_someone_without_the_role_is_refused_at_the_field_and_stores_nothing(people, who, expected):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    before = snapshot(case_id)
    response = lead.post(f"/cases/{case_id}/assignee", {"assignee": who})
    assert response.status_code == 422
    assert expected in field_message(response.text, "assignee")
    assert snapshot(case_id) == before
    assert notifications("assignment") == []


def test_only_those_who_work_the_step_may_assign(people):
    lead = people("lead")
    case_id = lead.open_return()
    clerk = people("clerk")
    page = clerk.get(f"/cases/{case_id}").text
    assert 'data-testid="assign-me"' not in page
    before = snapshot(case_id)
    assert clerk.post(f"/cases/{case_id}/assignee", {"assignee": "@me"}).status_code == 403
    assert snapshot(case_id) == before
    auditor = people("auditor")
    auditor.get(f"/cases/{case_id}")
    assert auditor.post(f"/cases/{case_id}/assignee", {"assignee": "lead"}).status_code == 403
    assert snapshot(case_id) == before


# -- notes ----------------------------------------------------------------------------------------


def test_a_note_goes_into_the_chain_and_mentions_notify_only_those_who_may_see(people):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    response = lead.post(f"/cases/{case_id}/notes", {"note": "Customer called: noise again. @lead2 @qa @ghost"})
    assert response.status_code == 302
    row = db.session.scalar(sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id,
                                                          HistoryEntry.kind == "note"))
    assert row.comment.startswith("Customer called") and row.inputs == {"mentions": ["lead2", "qa", "ghost"]}
    assert row.to_state == row.from_state == fresh(case_id).state
    told = {name for name, _ in notifications("mention")}
    may_see = {name for name in ("lead2", "qa")
               if people(name).get(f"/cases/{case_id}").status_code == 200}
    assert told == may_see and "lead2" in told
    assert chain_breaks(lead) == []
    assert "Customer called: noise again." in text_of(lead.get(f"/cases/{case_id}").text)


@pytest.mark.parametrize("text, expected", [("   ", "empty"), ("x" * 4001, "at most 4000")])
def test_an_empty_or_overlong_note_is_refused_at_the_field(people, text, expected):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    before = snapshot(case_id)
    response = lead.post(f"/cases/{case_id}/notes", {"note": text})
    assert response.status_code == 422
    assert expected in field_message(response.text, "note")
    assert snapshot(case_id) == before


# -- attachments ----------------------------------------------------------------------------------


def test_a_photo_is_stored_by_hash_recorded_in_the_chain_shown_as_thumbnail_and_downloaded(people, attachment_dir):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    photo = png()
    digest = hashlib.sha256(photo).hexdigest()
    response = lead.post(f"/cases/{case_id}/notes", {"note": "damage on arrival",
                                                     "file": (io.BytesIO(photo), "../../damage.png")},
                         content_type="multipart/form-data")
    assert response.status_code == 302, response.text
    assert (attachment_dir / digest[:2] / digest).read_bytes() == photo
    row = db.session.scalar(sa.select(HistoryEntry).where(HistoryEntry.case_id == case_id,
                                                          HistoryEntry.action == "attach"))
    assert row.inputs["attachment"] == {"sha256": digest, "name": "damage.png", "type": "image/png",
                                        "size": len(photo)}
    assert chain_breaks(lead) == []
    page = lead.get(f"/cases/{case_id}").text
    assert f"/cases/{case_id}/files/{digest}/thumbnail.png" in page
    thumb = lead.get(f"/cases/{case_id}/files/{digest}/thumbnail.png")
    assert thumb.mimetype == "image/png" and Image.open(io.BytesIO(thumb.data)).size[0] <= 240
    download = lead.get(f"/cases/{case_id}/files/{digest}")
    assert download.data == photo
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_a_file_is_served_only_on_the_case_that_records_it(people, attachment_dir):
    lead = people("lead")
    first, second = lead.open_return(), lead.open_return({"customer": "Other"})
    lead.get(f"/cases/{first}")
    photo = png()
    lead.post(f"/cases/{first}/notes", {"note": "", "file": (io.BytesIO(photo), "a.png")},
              content_type="multipart/form-data")
    digest = hashlib.sha256(photo).hexdigest()
    assert lead.get(f"/cases/{second}/files/{digest}").status_code == 404
    assert lead.get(f"/cases/{first}/files/{'0' * 64}").status_code == 404
    assert lead.get(f"/cases/{first}/files/..%2F..%2Fsecret").status_code == 404


@pytest.mark.parametrize("content, name, expected", [
    (b"MZ\x90\x00" + b"\x00" * 100, "tool.exe", "not accepted"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * (64 * 1024), "big.png", "at most 65,536"),
    (b"", "empty.png", "or it is empty"),
])
def test_a_refused_file_is_reported_at_the_field_and_nothing_is_stored(people, attachment_dir, content, name, expected):
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    before = snapshot(case_id)
    response = lead.post(f"/cases/{case_id}/notes", {"note": "see file", "file": (io.BytesIO(content), name)},
                         content_type="multipart/form-data")
    assert response.status_code == 422
    assert expected in field_message(response.text, "file")
    assert "see file" in response.text  # what was typed is kept
    assert snapshot(case_id) == before
    assert not attachment_dir.exists() or not any(attachment_dir.rglob("*"))


def test_the_virus_scan_hook_can_refuse_a_file(app, people, attachment_dir):
    app.config["ATTACHMENT_SCANNER"] = "tests.test_desk:refuse_eicar"
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    response = lead.post(f"/cases/{case_id}/notes", {"note": "", "file": (io.BytesIO(b"EICAR test"), "x.txt")},
                         content_type="multipart/form-data")
    assert response.status_code == 422 and "EICAR" in field_message(response.text, "file")


def refuse_eicar(data: bytes) -> str | None:
    return "EICAR signature found" if b"EICAR" in data else None


# -- the printable record -------------------------------------------------------------------------


def test_the_printable_record_shows_the_data_and_who_signed_each_step(people):
    lead = people("lead")
    case_id = lead.open_return({"customer": "华东机电"})
    page = lead.get(f"/cases/{case_id}/print")
    assert page.status_code == 200
    text = text_of(page.text)
    case = fresh(case_id)
    assert "Returned-goods inspection record" in text and case.number in text and "华东机电" in text
    signatures = re.search(r'data-testid="signatures">(.*?)</table>', page.text, re.S).group(1)
    assert "lead" in signatures and "Opened the case" in text_of(signatures)
    zh = people("lead", "zh").get(f"/cases/{case_id}/print").text
    assert "退货检验记录表" in text_of(zh)
    assert people("qa").get(f"/cases/{case_id + 1000}/print").status_code == 404


def test_the_case_page_says_workflow_version(people):
    lead = people("lead")
    case_id = lead.open_return()
    assert "workflow version 1" in text_of(lead.get(f"/cases/{case_id}").text)



# -- the API --------------------------------------------------------------------------------------


def test_the_api_assigns_writes_notes_and_lists_files(api):
    api.user("lead", "service_lead")
    api.user("lead2", "service_lead")
    api.user("clerk", "returns_clerk")
    case = api.open("lead", "return_inspection", {"customer": "C", "products": "XJ-200 × 1", "quantity": 1,
                                                  "reason": "noise"})
    path = f"/api/v1/cases/{case['id']}"
    response = api.client.put(f"{path}/assignee", headers=api.headers("lead"), json={"assignee": "lead2"})
    assert response.status_code == 200 and response.get_json() == {"case_id": case["id"], "assignee": "lead2"}
    before = snapshot(case["id"])
    refused = api.client.put(f"{path}/assignee", headers=api.headers("lead"), json={"assignee": "clerk"})
    assert refused.status_code == 422 and "assignee" in refused.get_json()["error"]["fields"]
    assert api.client.put(f"{path}/assignee", headers=api.headers("clerk"), json={"assignee": None}).status_code == 403
    assert snapshot(case["id"]) == before
    note = api.post("lead", f"{path}/notes", {"text": "ask @lead2 about SO-88231"})
    assert note.status_code == 201 and note.get_json()["mentions"] == ["lead2"]
    assert api.post("lead", f"{path}/notes", {"text": ""}).status_code == 422
    too_long = api.post("lead", f"{path}/notes", {"text": "x" * 4001})
    assert too_long.status_code == 422 and "text" in too_long.get_json()["error"]["fields"]
    assert api.get("lead", f"{path}/attachments").get_json() == {"items": []}
    assert api.get("clerk", "/api/v1/cases/999999/attachments").status_code == 404
