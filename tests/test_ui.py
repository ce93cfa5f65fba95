"""The staff web UI through Flask's test client: sign-in, CSRF, auditors, error pages, escaping, forms."""

from __future__ import annotations

import contextvars
import html
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from web.extensions import db
from workflow.engine import Actor, advance, get_case, open_case
from workflow.models import Case, HistoryEntry

from .helpers import minimal_text, publish_minimal

ROOT = Path(__file__).resolve().parent.parent
RETURN = {"customer": "华东机电", "products": "XJ-200 × 3", "quantity": "3", "reason": "异响"}
SCRIPT = '<script>alert("x")</script>'
LEAD = Actor("lead", frozenset({"service_lead"}))


def token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


class Person:
    """One person's browser session, through the test client.

    Each request runs outside the test's app context, as it would in a server: with its own `g`
    (where Flask-Login and Flask-WTF keep the signed-in user and the CSRF token) and its own
    database session. The test's `db.session` therefore re-reads what the requests wrote.
    """

    def __init__(self, app: Flask, name: str | None = None, language: str = "en"):
        self.client: FlaskClient = app.test_client()
        self.headers = {"Accept-Language": "zh-CN,zh;q=0.9" if language == "zh" else "en"}
        self.token = ""
        if name:
            self.sign_in(name)

    def get(self, path: str, **kw):
        response = contextvars.Context().run(self.client.get, path, headers=self.headers, **kw)
        if response.mimetype == "text/html" and 'name="csrf_token"' in response.text:
            self.token = token_of(response.text)
        return response

    def post(self, path: str, data: dict | None = None, token: bool = True, **kw):
        body = dict(data or {})
        if token:
            body.setdefault("csrf_token", self.token)
        return contextvars.Context().run(self.client.post, path, data=body, headers=self.headers, **kw)

    def sign_in(self, name: str, password: str | None = None):
        self.get("/sign-in")
        response = self.post("/sign-in", {"name": name, "password": password or f"{name}-demo-pass"})
        assert response.status_code == 302, response.text
        self.get("/")
        return response

    def open_return(self, data: dict | None = None) -> int:
        self.get("/cases/new/return_inspection")
        response = self.post("/cases/new/return_inspection", {**RETURN, **(data or {})})
        assert response.status_code == 302, response.text
        return int(response.headers["Location"].rsplit("/", 1)[1])


@pytest.fixture
def people(app, staff):
    for name, roles in {
        "lead": ["service_lead"], "lead2": ["service_lead"], "director": ["quality_director"],
        "clerk": ["returns_clerk"], "qa": ["fg_qa"], "auditor": ["auditor"], "specialist": ["service_specialist"],
    }.items():
        staff(name, *roles)
    return lambda name, language="en": Person(app, name, language)


def fresh(case_id: int) -> Case:
    """The case as the requests left it."""
    db.session.expire_all()
    return get_case(db.session, case_id)


def text_of(page: str) -> str:
    """The page's visible text, roughly: tags removed, entities decoded, whitespace squeezed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# -- signing in -----------------------------------------------------------------------------------

PAGES = ["/", "/cases", "/cases/new", "/cases/new/return_inspection", "/cases/1", "/cases/1/actions/approve"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_but_sign_in_needs_a_signed_in_user(app, people, path):
    anonymous = Person(app)
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


def test_posts_need_a_signed_in_user_too(app, people):
    anonymous = Person(app)
    anonymous.get("/sign-in")
    response = anonymous.post("/cases/new/return_inspection", RETURN)
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_sign_in_refuses_a_wrong_password_and_an_unknown_name_alike(app, people):
    person = Person(app)
    person.get("/sign-in")
    wrong = person.post("/sign-in", {"name": "lead", "password": "nope"})
    unknown = person.post("/sign-in", {"name": "nobody", "password": "nope"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Unknown user name or wrong password." in response.text
    assert person.get("/").status_code == 302


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(app, people):
    person = Person(app)
    person.get("/sign-in")
    back = person.post("/sign-in?next=/cases", {"name": "lead", "password": "lead-demo-pass"})
    assert back.headers["Location"] == "/cases"
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        other = Person(app)
        other.get("/sign-in")
        response = other.post(f"/sign-in?next={target}", {"name": "lead", "password": "lead-demo-pass"})
        assert response.headers["Location"] == "/", target


def test_the_session_cookie_is_http_only_and_same_site(app, people):
    person = Person(app)
    person.get("/sign-in")
    response = person.post("/sign-in", {"name": "lead", "password": "lead-demo-pass"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_out_ends_the_session(app, people):
    lead = people("lead")
    assert lead.get("/").status_code == 200
    response = lead.post("/sign-out")
    assert response.status_code == 302
    assert lead.get("/").status_code == 302


# -- CSRF, auditors, error pages ------------------------------------------------------------------


def test_forms_without_a_csrf_token_are_refused(app, people):
    lead = people("lead")
    lead.get("/cases/new/return_inspection")
    response = lead.post("/cases/new/return_inspection", RETURN, token=False)
    assert response.status_code == 400
    assert "security token" in response.text and "Traceback" not in response.text
    forged = lead.post("/cases/new/return_inspection", {**RETURN, "csrf_token": "forged"})
    assert forged.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    assert Person(app).post("/sign-in", {"name": "lead", "password": "lead-demo-pass"}, token=False).status_code == 400


def test_every_form_carries_a_csrf_token(app, people):
    lead = people("lead")
    case_id = lead.open_return()
    for path in ("/cases/new/return_inspection", f"/cases/{case_id}", "/"):
        page = lead.get(path).text
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", page, re.S)
        assert forms, path
        assert all('name="csrf_token"' in form for form in forms), path


def test_the_api_needs_no_csrf_token(api):
    # The API authenticates each call with its bearer token, so CSRF protection must leave it alone.
    api.open("service_lead", "return_inspection", {**RETURN, "quantity": 3})


def test_an_auditor_sees_everything_but_has_no_buttons_and_the_server_refuses_their_posts(app, people):
    lead = people("lead")
    case_id = lead.open_return()
    auditor = people("auditor")
    assert auditor.get("/").headers["Location"] == "/cases"
    listing = auditor.get("/cases")
    assert listing.status_code == 200 and "华东机电" in listing.text
    page = auditor.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert 'id="action-' not in page.text and "/actions/" not in page.text
    assert "You can read this case but not change it." in page.text
    assert "/cases/new" not in page.text
    before = db.session.scalar(sa.select(Case.lock_version).where(Case.id == case_id))
    refused = auditor.post(f"/cases/{case_id}/actions/collect_opinions",
                           {"opinions": "ok", "application_ref": "RA-1", "expected_version": before})
    assert refused.status_code == 403
    assert "You may not do this" in refused.text and "Traceback" not in refused.text
    assert auditor.post("/cases/new/return_inspection", RETURN).status_code == 403
    assert auditor.get("/cases/new").status_code == 403
    db.session.expire_all()
    assert db.session.scalar(sa.select(Case.lock_version).where(Case.id == case_id)) == before
    assert auditor.post("/sign-out").status_code == 302  # signing out changes no case


@pytest.mark.parametrize("path", ["/cases/999", "/nowhere", "/cases/1/actions/no_such_action", "/cases/new/nope"])
def test_missing_things_have_our_own_404_page(app, people, path):
    lead = people("lead")
    lead.open_return()
    response = lead.get(path)
    assert response.status_code == 404
    assert "This page does not exist" in response.text and "After-sales workflow" in response.text


def test_a_404_page_in_chinese(app, people):
    response = people("lead", "zh").get("/cases/999")
    assert response.status_code == 404 and "页面不存在" in response.text


def test_opening_a_workflow_the_roles_do_not_open_is_a_403_page(app, people):
    clerk = people("clerk")
    response = clerk.get("/cases/new/return_inspection")
    assert response.status_code == 403 and "You may not do this" in response.text
    choices = clerk.get("/cases/new").text
    assert "None of your roles opens cases." in choices


def test_an_unexpected_error_is_a_500_page_without_a_stack_trace(app, people):
    def broken() -> str:
        raise RuntimeError("secret detail of the failure")

    app.add_url_rule("/broken", "broken", broken)
    response = people("lead").get("/broken")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "secret detail" not in response.text and "Traceback" not in response.text


def test_a_wrong_method_is_a_405_page_of_ours(app, people):
    lead = people("lead")
    response = contextvars.Context().run(lead.client.put, "/cases")
    assert response.status_code == 405 and "After-sales workflow" in response.text
    assert "GET" in response.headers["Allow"]


# -- the new-case form ----------------------------------------------------------------------------


def test_the_new_case_form_is_generated_from_the_field_definitions(app, people):
    page = people("lead").get("/cases/new/return_inspection").text
    assert re.search(r'<input id="new-customer" name="customer" type="text" value=""\s+required\s+maxlength="200"',
                     page)
    assert re.search(r'<input id="new-quantity" name="quantity" type="number"[^>]*required[^>]*min="1"', page)
    assert re.search(r'<textarea id="new-reason" name="reason"[^>]*required[^>]*maxlength="2000"', page)
    # Fields that a later step asks for are left to that step.
    assert 'name="inspection_result"' not in page and 'name="received_quantity"' not in page
    complaint = people("lead").get("/cases/new/complaint")
    assert complaint.status_code == 403  # a service lead does not open complaints


def test_enum_choices_defaults_and_reference_fields_in_the_new_case_form(app, staff):
    staff("sales", "sales")
    page = Person(app, "sales", "zh").get("/cases/new/complaint").text
    market = re.search(r'<select id="new-market" name="market" required.*?</select>', page, re.S).group(0)
    assert '<option value="domestic" selected>国内</option>' in market and ">国外<" in market
    assert 'name="original_complaint"' in page and "“客户投诉”案件编号" in page


def test_new_case_messages_from_the_engine_stand_next_to_their_fields_and_keep_what_was_typed(app, people):
    lead = people("lead", "zh")
    lead.get("/cases/new/return_inspection")
    response = lead.post("/cases/new/return_inspection",
                         {**RETURN, "customer": "", "quantity": "0", "reason": "还记得我写的吗"})
    assert response.status_code == 422
    page = response.text
    assert re.search(r'id="new-quantity"[^>]*aria-invalid="true"', page)
    assert re.search(r'<small id="new-quantity-msg" class="field-error">值不能小于1</small>', page)
    assert re.search(r'<small id="new-customer-msg" class="field-error">必填</small>', page)
    assert "请更正：客户、申请退货总数量" in page  # the summary names the fields as the form does
    assert "还记得我写的吗" in page and 'value="XJ-200 × 3"' not in page  # products is a textarea
    assert "XJ-200 × 3</textarea>" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_a_new_case_opens_through_the_engine_and_lands_on_its_page(app, people, clock):
    lead = people("lead")
    case_id = lead.open_return({"comment": "by phone"})
    case = fresh(case_id)
    assert case.state == "requested" and case.created_by == "lead"
    assert case.data["quantity"] == 3 and case.number == "TH202611-001"
    page = lead.get(f"/cases/{case_id}").text
    assert "Case TH202611-001 opened." in page and "by phone" in page


# -- the case page --------------------------------------------------------------------------------


def test_the_case_page_shows_data_state_actions_timers_history_and_diagram(app, people, frozen_clock):
    lead = people("lead")
    case_id = lead.open_return()
    case = fresh(case_id)
    advance(db.session, app.extensions["workflow_clock"], case, "collect_opinions", LEAD,
            {"application_ref": "RA-7", "opinions": "品质办同意"}, "all agree")
    director = Actor("director", frozenset({"quality_director"}))
    advance(db.session, app.extensions["workflow_clock"], case, "approve", director)
    db.session.commit()
    clerk = people("clerk")
    page = clerk.get(f"/cases/{case_id}").text
    text = text_of(page)
    assert "Approved" in text and "Customer 华东机电" in text and "Return application reference RA-7" in text
    assert 'id="action-receive"' in page and 'name="received_quantity"' in page
    assert 'name="expected_version" value="3"' in page
    assert "Approve the return · director" in text and "Awaiting approval → Approved" in text
    assert "all agree" in text and "Opened the case · lead" in text
    assert '<figure class="diagram" data-testid="diagram"><svg' in page
    assert "#f59e0b" in page  # the current state is highlighted
    response = clerk.post(f"/cases/{case_id}/actions/receive", {
        "received_quantity": "3", "packaging_intact": "true", "heavy_damage": "false", "rain_wetted": "false",
        "returned_by": "王师傅", "expected_version": "3",
    })
    assert response.status_code == 302
    page = clerk.get(f"/cases/{case_id}").text
    text = text_of(page)
    assert "Done: Receive the returned goods." in text
    assert "Inspect within 48 hours of arrival" in text and "due 2026-11-22 17:00" in text and "in 2 d" in text
    assert "Outer packaging intact Yes" in text and "Heavily damaged No" in text
    frozen_clock.advance(hours=49)
    text = text_of(people("qa").get(f"/cases/{case_id}").text)
    assert "Overdue" in text and "1 h overdue" in text


def test_a_guard_message_stands_next_to_its_field(app, people):
    lead = people("lead")
    case_id = lead.open_return()
    case = fresh(case_id)
    clock = app.extensions["workflow_clock"]
    advance(db.session, clock, case, "collect_opinions", LEAD, {"application_ref": "RA-7", "opinions": "ok"})
    advance(db.session, clock, case, "approve", Actor("director", frozenset({"quality_director"})))
    db.session.commit()
    clerk = people("clerk", "zh")
    clerk.get(f"/cases/{case_id}")
    response = clerk.post(f"/cases/{case_id}/actions/receive", {
        "received_quantity": "2", "packaging_intact": "true", "heavy_damage": "false", "rain_wetted": "false",
        "returned_by": "王师傅", "expected_version": "3",
    })
    assert response.status_code == 422
    assert re.search(r'<small id="receive-handover_note-msg" class="field-error">清点数量与退货申请不符', response.text)
    assert re.search(r'<details id="action-receive" class="action" open>', response.text)
    assert 'value="王师傅"' in response.text  # what was typed is kept


def test_a_refusal_for_the_wrong_role_names_who_may_take_the_step(app, people):
    lead = people("lead")
    case_id = lead.open_return()
    qa = people("qa", "zh")
    response = qa.get(f"/cases/{case_id}/actions/collect_opinions")
    assert response.status_code == 403
    # The engine's reason, with the roles as the definition labels them: the same before and after sending.
    assert "“相关部门签署意见”需要以下角色之一：售后主办" in text_of(response.text)
    refused = qa.post(f"/cases/{case_id}/actions/collect_opinions",
                      {"application_ref": "RA-1", "opinions": "我的意见", "expected_version": "1"})
    assert refused.status_code == 403
    assert "“相关部门签署意见”需要以下角色之一：售后主办" in text_of(refused.text)
    assert "我的意见" in refused.text  # kept, even though it could not be sent
    assert fresh(case_id).state == "requested"


def test_four_eyes_hides_the_step_from_whoever_entered_the_state(app, staff, people):
    staff("both", "service_lead", "quality_director")
    both = Person(app, "both")
    case_id = both.open_return()
    both.get(f"/cases/{case_id}")
    both.post(f"/cases/{case_id}/actions/collect_opinions",
              {"application_ref": "RA-1", "opinions": "ok", "expected_version": "1"})
    assert fresh(case_id).state == "awaiting_approval"
    page = both.get(f"/cases/{case_id}").text
    assert 'id="action-approve"' not in page and 'id="action-refuse"' in page
    asked = both.get(f"/cases/{case_id}/actions/approve")
    assert asked.status_code == 403
    reason = "You put this case into 'Awaiting approval', so someone else must 'Approve the return'"
    assert reason in text_of(asked.text)  # the engine's own reason, as advance() gives it
    assert 'id="action-approve"' in people("director").get(f"/cases/{case_id}").text


def test_a_stale_form_says_so_shows_the_fresh_case_and_keeps_what_was_typed(app, people):
    lead = people("lead")
    case_id = lead.open_return()
    page = lead.get(f"/cases/{case_id}").text
    assert 'name="expected_version" value="1"' in page
    # Meanwhile, another lead moves the case.
    other = people("lead2")
    other.get(f"/cases/{case_id}")
    moved = other.post(f"/cases/{case_id}/actions/collect_opinions",
                       {"application_ref": "RA-9", "opinions": "theirs", "expected_version": "1"})
    assert moved.status_code == 302
    response = lead.post(f"/cases/{case_id}/actions/collect_opinions",
                         {"application_ref": "RA-1", "opinions": "my long careful opinion", "comment": "mine",
                          "expected_version": "1"})
    assert response.status_code == 409
    text = text_of(response.text)
    assert "Someone else changed this case while you were filling in the form." in text
    assert "Awaiting approval" in text and "theirs" in text  # the fresh case
    assert "my long careful opinion" in response.text and 'value="RA-1"' in response.text and "mine" in response.text
    assert 'data-testid="kept-form"' in response.text
    assert fresh(case_id).data["opinions"] == "theirs"


def test_a_stale_form_whose_step_is_still_open_can_be_sent_again(app, staff):
    version = publish_minimal(app.extensions["workflow_clock"], minimal_text(
        **{"  - name: approve\n    from: submitted": "  - name: note\n    from: submitted\n    to: submitted\n"
           "    roles: [manager]\n    label: {en: Add a note, zh: 备注}\n    inputs:\n"
           "      - {name: note, type: text, label: {en: Note, zh: 说明}}\n"
           "  - name: approve\n    from: submitted"}))
    assert version.key == "minimal"
    staff("clerk", "clerk")
    staff("boss", "manager")
    staff("boss2", "manager")
    clerk = Person(app, "clerk")
    clerk.get("/cases/new/minimal")
    case_id = int(clerk.post("/cases/new/minimal", {"amount": "10"}).headers["Location"].rsplit("/", 1)[1])
    clerk.get(f"/cases/{case_id}")
    clerk.post(f"/cases/{case_id}/actions/submit", {"expected_version": "1"})
    boss, boss2 = Person(app, "boss"), Person(app, "boss2")
    boss.get(f"/cases/{case_id}")
    boss2.get(f"/cases/{case_id}")
    assert boss2.post(f"/cases/{case_id}/actions/note", {"note": "first", "expected_version": "2"}).status_code == 302
    stale = boss.post(f"/cases/{case_id}/actions/note", {"note": "second", "expected_version": "2"})
    assert stale.status_code == 409
    assert re.search(r'<details id="action-note" class="action" open>', stale.text)
    assert 'name="expected_version" value="3"' in stale.text and ">second</textarea>" in stale.text
    assert boss.post(f"/cases/{case_id}/actions/note", {"note": "second", "expected_version": "3"}).status_code == 302


def test_reference_fields_link_to_the_case_they_name_and_back(app, people, clock):
    specialist = Actor("specialist", frozenset({"service_specialist"}))
    part = open_case(db.session, clock, "replacement_part", {
        "customer": "华东机电", "product": "XJ-200", "part": "门锁", "quantity": 1, "reason": "坏",
        "request_date": "2026-11-20",
    }, specialist)
    db.session.commit()
    lead = people("lead")
    case_id = lead.open_return()
    lead.get(f"/cases/{case_id}")
    response = lead.post(f"/cases/{case_id}/actions/settle_without_return", {
        "settlement": "replacement_parts", "replacement_part_case": part.number, "expected_version": "1",
    })
    assert response.status_code == 302, response.text
    page = lead.get(f"/cases/{case_id}").text
    assert f'<a href="/cases/{part.id}" data-testid="ref-link">{part.number}</a>' in page
    back = lead.get(f"/cases/{part.id}").text
    assert f'<a href="/cases/{case_id}">TH202611-001</a>' in back and "Replacement-part request" in back


# -- escaping -------------------------------------------------------------------------------------


def test_typed_text_is_escaped_everywhere(app, people):
    lead = people("lead")
    case_id = lead.open_return({"customer": SCRIPT, "reason": SCRIPT, "comment": SCRIPT})
    lead.get(f"/cases/{case_id}")
    lead.post(f"/cases/{case_id}/actions/collect_opinions",
              {"application_ref": SCRIPT[:50], "opinions": SCRIPT, "comment": SCRIPT, "expected_version": "1"})
    director = people("director")
    for path in (f"/cases/{case_id}", "/", "/cases", f"/cases?q={SCRIPT}"):
        page = director.get(path).text
        assert "<script>alert" not in page, path
    page = director.get(f"/cases/{case_id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert text_of(page).count(SCRIPT) >= 4  # data, history inputs and comments, shown as text
    listing = director.get("/").text
    assert "&lt;script&gt;" in listing


def test_labels_from_a_definition_are_escaped_in_pages_and_in_the_diagram(app, staff):
    clock = app.extensions["workflow_clock"]
    publish_minimal(clock, minimal_text(**{
        "{en: Draft, zh: 草稿}": "{en: '<script>alert(1)</script> Draft', zh: '<script>alert(1)</script> 草稿'}",
        "{en: Amount, zh: 金额}": "{en: '<img src=x onerror=alert(1)>', zh: '<b>金额</b>'}",
    }))
    staff("clerk", "clerk")
    clerk = Person(app, "clerk")
    form = clerk.get("/cases/new/minimal").text
    assert "<img" not in form and "&lt;img src=x onerror=alert(1)&gt;" in form
    case_id = int(clerk.post("/cases/new/minimal", {"amount": "5"}).headers["Location"].rsplit("/", 1)[1])
    for path in (f"/cases/{case_id}", "/", "/cases"):
        page = clerk.get(path).text
        assert "<script>alert" not in page and "<img" not in page, path
    page = clerk.get(f"/cases/{case_id}").text
    figure = page[page.index('<figure class="diagram"'):]
    svg = figure[figure.index("<svg"):figure.index("</svg>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Draft" in svg


# -- lists ----------------------------------------------------------------------------------------


def _return_case(clock, customer: str, steps: int) -> Case:
    """A return case moved `steps` steps along: 0 requested, 1 awaiting approval, 2 approved, 3 received."""
    case = open_case(db.session, clock, "return_inspection", {**RETURN, "customer": customer, "quantity": 3}, LEAD)
    moves = [
        ("collect_opinions", LEAD, {"application_ref": "RA", "opinions": "ok"}),
        ("approve", Actor("director", frozenset({"quality_director"})), {}),
        ("receive", Actor("clerk", frozenset({"returns_clerk"})), {
            "received_quantity": 3, "packaging_intact": True, "heavy_damage": False, "rain_wetted": False,
            "returned_by": "王"}),
    ]
    for action, actor, inputs in moves[:steps]:
        advance(db.session, clock, case, action, actor, inputs)
    return case


def test_the_inbox_lists_what_the_user_can_act_on_overdue_first_then_by_due_time(app, people, frozen_clock):
    clock = app.extensions["workflow_clock"]
    _return_case(clock, "waiting for approval", 1)  # not the quality assurer's business
    first = _return_case(clock, "received first", 3)
    frozen_clock.advance(hours=10)
    second = _return_case(clock, "received second", 3)
    db.session.commit()
    qa = people("qa")
    rows = re.findall(r'<tr class="[^"]*" data-case="(\d+)"', qa.get("/").text)
    assert rows == [str(first.id), str(second.id)]
    frozen_clock.advance(hours=40)  # the first is now 50 h past arrival: overdue
    page = qa.get("/").text
    assert re.findall(r'<tr class="([^"]*)" data-case="(\d+)"', page) == [
        ("is-overdue", str(first.id)), ("", str(second.id))]
    text = text_of(page)
    assert "Returned-goods inspection 2 1 overdue" in text
    overdue_only = re.findall(r'data-case="(\d+)"', qa.get("/?overdue=1").text)
    assert overdue_only == [str(first.id)]


def test_inbox_and_all_cases_filter_search_and_page(app, people):
    app.config["UI_PAGE_SIZE"] = 2
    clock = app.extensions["workflow_clock"]
    for n in range(5):
        _return_case(clock, f"客户{n}", n % 2)
    db.session.commit()
    lead = people("lead")
    inbox = lead.get("/").text
    assert "Returned-goods inspection <strong>3</strong>" in inbox  # three cases are still requested
    assert "Page 1 of 2" in inbox and 'rel="next"' in inbox
    second = lead.get("/?page=2").text
    assert len(re.findall(r'data-case="\d+"', second)) == 1
    assert "Page 2 of 2" in lead.get("/?page=99").text and "Page 3 of 3" in lead.get("/cases?page=99").text
    found = re.findall(r'data-case="(\d+)"', lead.get("/cases?q=客户3").text)
    assert found == ["4"]
    by_number = re.findall(r'data-case="(\d+)"', lead.get("/cases?q=TH202611-002").text)
    assert by_number == ["2"]
    waiting = re.findall(r'data-case="(\d+)"', lead.get("/cases?state=return_inspection:awaiting_approval").text)
    assert sorted(waiting) == ["2", "4"]
    assert re.findall(r'data-case="(\d+)"', lead.get("/?q=%25").text) == []  # LIKE wildcards are plain text
    assert re.findall(r'data-case="(\d+)"', lead.get("/cases?q=%25").text) == []
    assert re.findall(r'data-case="(\d+)"', lead.get("/cases?workflow=complaint").text) == []


def test_the_all_cases_overdue_filter(app, people, frozen_clock):
    clock = app.extensions["workflow_clock"]
    late = _return_case(clock, "late", 3)
    _return_case(clock, "early", 1)
    db.session.commit()
    frozen_clock.advance(hours=49)
    lead = people("lead")
    assert re.findall(r'data-case="(\d+)"', lead.get("/cases?overdue=1").text) == [str(late.id)]


def test_list_pages_ask_the_database_the_same_number_of_questions_for_few_or_many_cases(app, people):
    clock = app.extensions["workflow_clock"]
    qa = people("qa")
    statements: list[str] = []

    def count(*_args) -> None:
        statements.append("")

    def questions(path: str) -> int:
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert qa.get(path).status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    _return_case(clock, "first", 3)
    db.session.commit()
    few = {path: questions(path) for path in ("/", "/cases")}
    for n in range(8):
        _return_case(clock, f"more {n}", 3 if n % 2 else 1)
    db.session.commit()
    assert {path: questions(path) for path in ("/", "/cases")} == few


def test_a_timer_notice_shows_in_the_timeline_with_its_details(app, people):
    from workflow.engine import history

    clock = app.extensions["workflow_clock"]
    case = _return_case(clock, "reminded", 3)
    history.append(
        db.session, case, at=clock.now(), actor="system", action="reminder", from_state=case.state,
        to_state=case.state, kind=history.NOTICE, comment="催办单 Reminder notice",
        inputs={"timer": "inspection", "due_at": "2026-11-22T17:00:00+08:00", "addressed_to": ["fg_qa"], "number": 1},
    )
    db.session.commit()
    page = people("qa", "zh").get(f"/cases/{case.id}").text
    entry = text_of(page[page.index('data-testid="history"'):])
    assert "催办单 · 系统（计时器）" in entry
    assert "计时器 到厂48小时内检验 到期 2026-11-22 17:00 发送给 成品QA 次数 1" in entry


@pytest.mark.parametrize("key", ["return_inspection", "replacement_part", "complaint", "appraisal",
                                 "repair_dispatch"])
def test_every_shipped_workflow_has_a_new_case_form_that_reports_problems(app, staff, key):
    from workflow.engine import current_workflow, opener_roles

    definition = current_workflow(db.session, key)[1].definition
    staff("opener", *sorted(opener_roles(definition)))
    opener = Person(app, "opener")
    page = opener.get(f"/cases/new/{key}")
    assert page.status_code == 200
    computed = [name for name, spec in definition.fields.items() if spec.computed]
    assert all(f'name="{name}"' not in page.text for name in computed)
    refused = opener.post(f"/cases/new/{key}", {})
    assert refused.status_code == 422 and 'class="field-error"' in refused.text


# -- languages ------------------------------------------------------------------------------------


def test_the_language_follows_the_browser_until_the_user_chooses(app, people):
    lead = people("lead", "zh")
    case_id = lead.open_return()
    page = lead.get(f"/cases/{case_id}").text
    assert '<html lang="zh-CN"' in page and "已申请" in page and "相关部门签署意见" in page and "处理记录" in page
    lead.get(f"/language/en?next=/cases/{case_id}")
    page = lead.get(f"/cases/{case_id}").text
    assert '<html lang="en"' in page and "Requested" in page and "Collect the departments&#39; opinions" in page
    assert people("lead2").get("/").text.count("Inbox") >= 1  # an English browser gets English
    assert Person(app, language="zh").get("/sign-in").text.count("登录") >= 1


def test_the_chinese_catalogs_translate_every_ui_string_and_are_compiled(app):
    """The core's catalog (messages.po) and each slice's (web/slices.py) together translate every string
    of the pages; each compiled .mo is its .po."""
    extracted = {
        msgid for _, _, msgid, _, _ in extract_from_dir(
            str(ROOT), method_map=[("web/**.py", "python"), ("web/templates/**.html", "jinja2")],
            keywords={"_": None, "gettext": None, "N_": None, "lazy_gettext": None},
        )
    }
    folder = ROOT / "web" / "translations" / "zh" / "LC_MESSAGES"
    translated: set[str] = set()
    for po_path in sorted(folder.glob("*.po")):
        with open(po_path, "rb") as f:
            po = read_po(f)
        done = {m.id for m in po if m.id and m.string and not m.fuzzy}
        translated |= done
        with open(po_path.with_suffix(".mo"), "rb") as f:
            mo = read_mo(f)
        assert {m.id: m.string for m in mo if m.id} == {m.id: m.string for m in po if m.id in done}, po_path.name
    assert extracted - translated == set()


# -- notifications --------------------------------------------------------------------------------


def test_notifications_appear_in_the_header_and_are_marked_read(app, people, frozen_clock):
    notifications = pytest.importorskip("workflow.engine.notifications")
    clock = app.extensions["workflow_clock"]
    case = _return_case(clock, "late", 3)
    notifications.notify(db.session, ["fg_qa"], case=case, kind="overdue", at=clock.now(),
                         message={"en": f"{SCRIPT} is overdue", "zh": "已逾期"})
    db.session.commit()
    qa = people("qa")
    page = qa.get("/").text
    assert '<span class="badge overdue">1</span>' in page and "&lt;script&gt;" in page
    note = db.session.scalar(sa.select(notifications.Notification.id).where(
        notifications.Notification.kind == "overdue"))
    response = qa.post(f"/notifications/{note}/read", {"case_id": str(case.id)})
    assert response.headers["Location"] == f"/cases/{case.id}"
    assert '<span class="badge overdue">1</span>' not in qa.get("/").text


def test_history_rows_are_never_changed_by_viewing(app, people):
    lead = people("lead")
    case_id = lead.open_return()
    count = sa.select(sa.func.count()).select_from(HistoryEntry).where(HistoryEntry.case_id == case_id)
    rows = db.session.scalar(count)
    for path in (f"/cases/{case_id}", "/", "/cases", f"/cases/{case_id}/actions/collect_opinions"):
        lead.get(path)
    assert db.session.scalar(count) == rows


def test_a_timer_started_long_ago_shows_days(app, people, frozen_clock):
    clock = app.extensions["workflow_clock"]
    case = _return_case(clock, "old", 3)
    db.session.commit()
    frozen_clock.advance(days=3, hours=5)
    text = text_of(people("qa").get(f"/cases/{case.id}").text)
    assert "1 d 5 h overdue" in text


def test_the_header_names_the_users_roles_as_people_call_them_never_their_keys(app, people):
    from workflow.definitions import load_text, shipped_files

    path = next(p for p in shipped_files() if p.stem == "return_inspection")
    lead_label = load_text(path.read_text("utf-8"), str(path), path.stem).roles["service_lead"]
    header = people("lead").get("/").text.split("</nav>")[0]
    assert f"<small>{lead_label['en']}</small>" in header and "service_lead" not in header
    chinese = Person(app, "lead", "zh").get("/").text.split("</nav>")[0]
    assert f"<small>{lead_label['zh']}</small>" in chinese
