"""Why a step is refused: the engine's `refusal`, the same through the API and on the case page, in en and zh."""

from __future__ import annotations

from decimal import Decimal

import pytest

from web.extensions import db
from workflow.appraisal.models import StaffMember
from workflow.engine import Actor, advance, get_case, open_case, workflow_of
from workflow.engine.refusals import CODES, refusal

from .helpers import minimal_text, publish_minimal
from .test_ui import Person, text_of

# The minimal workflow where `approve` meets every check: managers act only in the department a case
# names (clerks read every case), only the handler named on the case approves it, four-eyes, and the
# amount guard the minimal workflow has.
EVERY_CHECK = minimal_text(**{
    "fields:\n": "access:\n  readers: [clerk]\n  department_field: dept\n  department_roles: [manager]\n\n"
                 "fields:\n  dept: {type: string, label: {en: Department, zh: 部门}}\n"
                 "  handler: {type: string, label: {en: Handler, zh: 经办人}}\n",
    "    roles: [manager]\n    label: {en: Approve, zh: 批准}\n":
        "    roles: [manager]\n    assignee_field: handler\n    four_eyes: true\n    label: {en: Approve, zh: 批准}\n",
})
PEOPLE = {
    "clerk": ("clerk",), "auditor_clerk": ("auditor", "clerk"), "boss": ("manager",),
    "clerk_manager": ("clerk", "manager"),  # on no department's staff register
    "both": ("clerk", "manager"),  # in East, like boss
}
IN_EAST = ("boss", "both")


def actor(name: str) -> Actor:
    return Actor(name, frozenset(PEOPLE[name]))


@pytest.fixture
def world(app, api, clock):
    publish_minimal(clock, EVERY_CHECK)
    for name, roles in PEOPLE.items():
        api.user(name, *roles, password=f"{name}-demo-pass")
    for name in IN_EAST:
        db.session.add(StaffMember(user_name=name, department="East", template="field_service",
                                   standard_pay=Decimal("1000.00"), supervisor="clerk"))
    db.session.commit()

    def request(amount: str = "10", handler: str = "boss", submitter: str = "clerk", submit: bool = True) -> int:
        case = open_case(db.session, clock, "minimal", {"amount": amount, "dept": "East", "handler": handler},
                         actor("clerk"))
        if submit:
            advance(db.session, clock, case, "submit", actor(submitter), {})
        return case.id

    cases = {
        "draft": request(submit=False),
        "boss_small": request(),
        "other_handler": request(handler="someone_else"),
        "both_submitted": request(handler="both", submitter="both"),
        "boss_big": request(amount="60000"),
    }
    db.session.commit()
    return cases


# code: (who asks, which case, which step, HTTP status, the API's error code)
ASKED = {
    "wrong_state": ("boss", "draft", "approve", 409, "wrong_state"),
    "read_only": ("auditor_clerk", "draft", "submit", 403, "role_refused"),
    "wrong_role": ("clerk", "boss_small", "approve", 403, "role_refused"),
    "not_your_department": ("clerk_manager", "boss_small", "approve", 403, "role_refused"),
    "not_the_assignee": ("boss", "other_handler", "approve", 403, "role_refused"),
    "four_eyes": ("both", "both_submitted", "approve", 403, "four_eyes"),
    "guard": ("boss", "boss_big", "approve", 422, "guard_failed"),
}


def test_every_code_is_asked_here():
    assert set(ASKED) == set(CODES)


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("code", list(ASKED))
def test_each_refusal_is_the_same_through_the_api_and_on_the_case_page(app, api, world, clock, code, language):
    name, which, step, status, error_code = ASKED[code]
    case = get_case(db.session, world[which])
    refused = refusal(db.session, case, _step(case, step), actor(name), clock)
    assert refused is not None and refused.code == code
    message = refused.messages[language]

    response = api.client.post(f"/api/v1/cases/{case.id}/actions/{step}",
                               json={"inputs": {}, "expected_version": case.lock_version},
                               headers={**api.headers(name), "Accept-Language": language})
    error = response.get_json()["error"]
    assert (response.status_code, error["code"], error["message"]) == (status, error_code, message)

    person = Person(app, name, language)
    page = person.get(f"/cases/{case.id}/actions/{step}")  # "why can't I take this step?"
    assert page.status_code == status and message in text_of(page.text)
    assert f'id="action-{step}"' not in page.text  # and the step is not offered on the page
    sent = person.post(f"/cases/{case.id}/actions/{step}", {"expected_version": str(case.lock_version)})
    assert sent.status_code == status
    if code != "read_only":  # a reader's every POST stops at the UI's door (web/ui/blueprint.py), before the engine
        assert message in text_of(sent.text)
    db.session.expire_all()
    assert get_case(db.session, case.id).lock_version == case.lock_version  # nothing moved


def _step(case, name):
    return workflow_of(case.version).definition.transitions[name]


def test_nothing_is_refused_to_whoever_may_take_the_step(app, api, world, clock):
    case = get_case(db.session, world["boss_small"])
    assert refusal(db.session, case, _step(case, "approve"), actor("boss"), clock) is None
    moved = api.post("boss", f"/api/v1/cases/{case.id}/actions/approve", {"inputs": {}})
    assert moved.status_code == 200 and moved.get_json()["state"] == "approved"
