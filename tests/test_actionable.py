"""One answer to "what can I act on now": the API's ?actionable=true, the inbox and each case's steps.

`policy.actionable` decides in SQL what SQL can (roles, read-only, department, state, assignee, four-eyes,
visibility) and judges the guards that read no input with the engine's own `refusal`; the inbox and the API
both list from it, and every case either lists must offer at least one step.
"""

from __future__ import annotations

import re

import pytest

from web.extensions import db
from workflow.engine import Actor, advance, available_actions, get_case, open_case, policy
from workflow.models import Case

from .helpers import minimal_text, publish_minimal
from .test_ui import Person

# The minimal workflow, with the manager's two ways out of `submitted` both four-eyes and both guarded
# by the case's data alone: a big amount is not approved here, and only an urgent request is rejected.
FOUR_EYES_GUARDED = minimal_text(**{
    "    roles: [manager]\n    label: {en: Approve, zh: 批准}\n":
        "    roles: [manager]\n    four_eyes: true\n    label: {en: Approve, zh: 批准}\n",
    "    roles: [manager]\n    label: {en: Reject, zh: 驳回}\n":
        "    roles: [manager]\n    four_eyes: true\n    label: {en: Reject, zh: 驳回}\n"
        "    guards:\n      - when: \"priority == 'urgent'\"\n"
        "        message: {en: Only urgent requests are rejected, zh: 只驳回紧急申请}\n",
})
PEOPLE = {
    "clerk": ("clerk",), "auditor_clerk": ("auditor", "clerk"), "manager": ("manager",),
    "clerk_manager": ("clerk", "manager"),
}


@pytest.fixture
def world(app, api, clock):
    """Users who sign in to the UI and call the API, and minimal requests in every situation that matters."""
    publish_minimal(clock, FOUR_EYES_GUARDED)
    for name, roles in PEOPLE.items():
        api.user(name, *roles, password=f"{name}-demo-pass")
    db.session.commit()

    def request(amount: str, priority: str = "normal", submitter: str = "clerk") -> int:
        case = open_case(db.session, clock, "minimal", {"amount": amount}, actor("clerk"))
        advance(db.session, clock, case, "submit", actor(submitter), {"priority": priority})
        return case.id

    cases = {
        "draft": open_case(db.session, clock, "minimal", {"amount": "10"}, actor("clerk")).id,
        "small": request("10"),                              # approve holds, reject's guard does not
        "big_urgent": request("60000", "urgent"),            # reject holds, approve's guard does not
        "big_normal": request("60000"),                      # neither guard holds: nobody can act
        "mine_small": request("10", submitter="clerk_manager"),  # four-eyes keeps its submitter out
    }
    db.session.commit()
    return cases


def actor(name: str) -> Actor:
    return Actor(name, frozenset(PEOPLE[name]))


def api_ids(api, name: str, per_page: int = 100) -> list[int]:
    ids, page = [], 1
    while True:
        body = api.get(name, f"/api/v1/cases?actionable=true&per_page={per_page}&page={page}").get_json()
        assert all(item["available_actions"] for item in body["items"]), body["items"]
        ids += [item["id"] for item in body["items"]]
        if page * per_page >= body["total"]:
            assert len(ids) == body["total"]
            return ids
        page += 1


def inbox_ids(app, name: str) -> list[int] | None:
    """The case ids the inbox page lists, or None when the inbox sends the user elsewhere."""
    response = Person(app, name).get("/")
    if response.status_code == 302:
        return None
    return [int(n) for n in re.findall(r'<tr class="[^"]*" data-case="(\d+)"', response.text)]


def offered(name: str, clock) -> set[int]:
    """Every case the user may see on which the engine offers them a step: what both lists must hold."""
    return {c.id for c in db.session.query(Case) if policy.may_see(db.session, actor(name), c)
            and available_actions(db.session, clock, c, actor(name))}


EXPECTED = {
    "clerk": {"draft"},
    "auditor_clerk": set(),
    "manager": {"small", "big_urgent", "mine_small"},
    "clerk_manager": {"draft", "small", "big_urgent"},
}


@pytest.mark.parametrize("name", list(PEOPLE))
def test_the_api_and_the_inbox_list_the_same_cases_each_with_a_step(app, api, world, clock, name):
    expected = {world[k] for k in EXPECTED[name]}
    assert offered(name, clock) == expected
    assert set(api_ids(api, name)) == expected
    assert set(api_ids(api, name, per_page=1)) == expected  # paging over the guarded cases is exact
    listed = inbox_ids(app, name)
    if name == "auditor_clerk":
        assert listed is None  # a reader's start page is every case: there is nothing for them to act on
    else:
        assert listed is not None and set(listed) == expected


def test_an_auditor_who_is_also_a_clerk_is_offered_nothing_anywhere(app, api, world):
    body = api.get("auditor_clerk", "/api/v1/cases?actionable=true").get_json()
    assert body["total"] == 0 and body["items"] == []
    draft = api.get("auditor_clerk", f"/api/v1/cases/{world['draft']}").get_json()
    assert draft["available_actions"] == []
    assert db.session.query(Case).where(policy.actionable(db.session, actor("auditor_clerk"))).count() == 0


def test_four_eyes_is_decided_from_the_history(app, api, world):
    """The submitter who is also a manager may not decide their own request; another manager may."""
    mine = world["mine_small"]
    assert mine not in api_ids(api, "clerk_manager") and mine in api_ids(api, "manager")
    case = api.get("clerk_manager", f"/api/v1/cases/{mine}").get_json()
    assert case["available_actions"] == []


def test_guards_on_the_case_data_decide_and_a_change_of_data_is_seen(app, api, world, clock):
    assert world["big_normal"] not in api_ids(api, "manager")
    case = get_case(db.session, world["big_normal"])
    case.data = {**case.data, "priority": "urgent"}  # as a later version of the case would hold it
    db.session.commit()
    assert world["big_normal"] in api_ids(api, "manager")
    assert [a["name"] for a in api.get("manager", f"/api/v1/cases/{world['big_normal']}").get_json()
            ["available_actions"]] == ["reject"]


def test_four_eyes_alone_is_decided_in_sql_too(app, api, world, clock):
    """On a version whose four-eyes steps have no guard, no case is judged in Python: SQL alone decides."""
    unguarded = FOUR_EYES_GUARDED.replace(
        "    guards:\n      - when: \"priority == 'urgent'\"\n"
        "        message: {en: Only urgent requests are rejected, zh: 只驳回紧急申请}\n", "",
    ).replace(
        "    guards:\n      - when: \"amount <= 50000\"\n"
        "        message: {en: Amounts over 50000 need another route, zh: 金额超过50000需走其他流程}\n", "",
    )
    assert "guards" not in unguarded
    publish_minimal(clock, unguarded)
    case = open_case(db.session, clock, "minimal", {"amount": "90000"}, actor("clerk_manager"))
    advance(db.session, clock, case, "submit", actor("clerk_manager"), {})
    db.session.commit()
    assert case.version.version == 2
    assert case.id not in api_ids(api, "clerk_manager") and case.id in api_ids(api, "manager")
    assert case.id in (inbox_ids(app, "manager") or []) and case.id not in (inbox_ids(app, "clerk_manager") or [])
