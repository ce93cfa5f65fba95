"""A complaint is numbered only when the GM office registers it (003 篇1 (八)); until then it is shown, in
the inbox, on its page and in the API, by a reference marked provisional, and by its official number after."""

from __future__ import annotations

import re
from decimal import Decimal

from web.extensions import db
from workflow.engine import Actor, numbering, open_case

from .test_ui import Person, text_of

COMPLAINT = {"customer": "Pacific Components", "market": "foreign", "order_number": "SO-88231",
             "part_number": "P-4410", "description": "Burrs on the flange"}
COMPLAINT_FORM = {"quantity": 500, "ship_date": "2026-11-02", "defective_quantity": 40, "customer_demand": "exchange",
                  "demand_quantity": 40, "sample_attached": True, "sales_opinion": "Exchange quickly"}
PROVISIONAL = {"en": "Provisional ref #{}", "zh": "临时编号 #{}"}


def awaiting_registration(api) -> dict:
    """A complaint the sales representative has sent in: in the GM office's inbox, not yet numbered."""
    api.user("sales", "sales", password="sales-demo-pass")
    api.user("gmoffice", "gm_office", password="gmoffice-demo-pass")
    case = api.open("sales", "complaint", COMPLAINT)
    case = api.act("sales", case, "submit", COMPLAINT_FORM)
    assert case["state"] == "registered" and case["number"] is None
    return case


def shown(app, name: str, language: str, case_id: int, listing: str = "/") -> tuple[str, str]:
    """A list's text (the inbox by default) and the case page's heading, as `name` reads them in `language`."""
    person = Person(app, name, language=language)
    inbox = text_of(person.get(listing).text)
    page = person.get(f"/cases/{case_id}").text
    heading = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert heading is not None
    return inbox, text_of(heading.group(1))


def test_a_complaint_goes_by_a_provisional_reference_until_registered_then_by_its_number(app, api):
    case = awaiting_registration(api)
    provisional = {lang: text.format(case["id"]) for lang, text in PROVISIONAL.items()}

    assert api.get("gmoffice", f"/api/v1/cases/{case['id']}").get_json()["name"] == provisional
    for language in ("en", "zh"):
        inbox, heading = shown(app, "gmoffice", language, case["id"])
        assert provisional[language] in inbox
        assert heading.startswith(provisional[language])
    # What the reference quotes finds the case, and only it, in the lists' search.
    other = api.act("sales", api.open("sales", "complaint", COMPLAINT), "submit", COMPLAINT_FORM)
    found, _ = shown(app, "gmoffice", "en", case["id"], listing=f"/cases?q=%23{case['id']}")
    assert provisional["en"] in found and PROVISIONAL["en"].format(other["id"]) not in found

    registered = api.act("gmoffice", case, "register")
    number = registered["number"]
    assert re.fullmatch(r"\d{4}-01", number)
    assert registered["name"] == {"en": number, "zh": number}
    assert api.get("sales", f"/api/v1/cases/{case['id']}").get_json()["name"] == {"en": number, "zh": number}
    for language in ("en", "zh"):
        listed, heading = shown(app, "gmoffice", language, case["id"], listing="/cases")
        assert heading.startswith(number)
        assert number in listed
        assert provisional[language] not in heading and provisional[language] not in listed


def test_a_case_numbered_when_opened_has_its_number_and_one_never_numbered_its_id(app, clock, published):
    lead = Actor("lead", frozenset({"service_lead"}))
    returned = open_case(db.session, clock, "return_inspection", {
        "customer": "华东机电", "products": "XJ-200 × 3", "quantity": 3, "reason": "noise"}, lead)
    assert returned.number and numbering.case_name(returned) == {"en": returned.number, "zh": returned.number}

    from workflow.appraisal import operations, set_staff
    from workflow.engine.users import create_user

    for name, roles in {"hr": ["hr"], "li": ["supervisor"], "zhang": ["employee"]}.items():
        create_user(db.session, name, roles, clock.now())
    set_staff(db.session, "zhang", "售后服务部", "field_service", Decimal("1500"), "li")
    sheet = operations.open_month(db.session, clock, "售后服务部", "2026-11", Actor("hr", frozenset({"hr"}))).opened[0]
    assert sheet.number is None  # the appraisal declares no numbering: its id is its name, nothing provisional
    assert numbering.case_name(sheet) == {"en": f"#{sheet.id}", "zh": f"#{sheet.id}"}


def test_a_notification_about_an_unregistered_complaint_quotes_its_provisional_reference(app, api):
    case = awaiting_registration(api)
    api.user("gmoffice2", "gm_office")
    response = api.client.put(f"/api/v1/cases/{case['id']}/assignee", headers=api.headers("gmoffice"),
                              json={"assignee": "gmoffice2"})
    assert response.status_code == 200, response.get_json()
    told = api.get("gmoffice2", "/api/v1/notifications").get_json()["items"]
    messages = [n["message"] for n in told if n["case_id"] == case["id"]]
    assert messages, told
    assert PROVISIONAL["en"].format(case["id"]) in messages[0]["en"]
    assert PROVISIONAL["zh"].format(case["id"]) in messages[0]["zh"]


def test_a_stale_refusal_about_an_unregistered_complaint_quotes_its_provisional_reference(app, api):
    case = awaiting_registration(api)
    refused = api.act("gmoffice", case, "register", status=409, expected_version=case["lock_version"] - 1)
    assert refused["error"]["code"] == "stale_version"
    assert PROVISIONAL["en"].format(case["id"]) in refused["error"]["message"]
    zh = api.client.post(f"/api/v1/cases/{case['id']}/actions/register",
                         headers={**api.headers("gmoffice"), "Accept-Language": "zh"},
                         json={"inputs": {}, "expected_version": case["lock_version"] - 1}).get_json()
    assert PROVISIONAL["zh"].format(case["id"]) in zh["error"]["message"]
