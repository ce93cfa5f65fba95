"""Four-eyes publishing of score-sheet templates (issue 13, item 4): with the WORKBENCH_FOUR_EYES setting, as for
definitions, a process owner's "publish" records a proposal, and only another process owner's approval publishes
it as a version naming both. The proposer never approves their own, a proposal made on a version that is no longer
the latest is stale, a rejection keeps why, and every refusal writes nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from web.extensions import db
from workflow.appraisal import templates
from workflow.engine.errors import WrongState
from workflow.engine.policy import Actor
from workflow.models import ScoresheetProposal

from .test_scoresheet_versions import KEY, LIGHTER, SHIPPED, URL, error, publish_shipped, rows
from .test_ui import Person

OWNER, SECOND = "owner", "owner2"
PROPOSALS = f"{URL}/proposals"
# A second edit beside LIGHTER: the deduction for light work becomes 3 instead of 10.
LIGHTEST = SHIPPED.replace("        points: 10\n  - key: customer_communication",
                           "        points: 3\n  - key: customer_communication")


def proposals() -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT id, key, base_version, status, proposed_by, approved_by, rejected_by, rejection, "
            "published_version, reason FROM scoresheet_proposals ORDER BY id"))]


def stored() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return rows(), proposals()


@pytest.fixture
def four_eyes(app, api, published, clock):
    app.config["WORKBENCH_FOUR_EYES"] = True
    for name, roles in {OWNER: ["process_owner"], SECOND: ["process_owner"], "hr": ["hr"],
                        "lead": ["service_lead"]}.items():
        api.user(name, *roles)
    publish_shipped(clock)
    return api


def propose(api, source: str = LIGHTER, reason: str = "light work deducts 5 from December", user: str = OWNER):
    return api.post(user, PROPOSALS, {"source": source, "reason": reason})


def decide(api, user: str, proposal_id: int, verdict: str = "approval", body: Any = None):
    return api.post(user, f"{PROPOSALS}/{proposal_id}/{verdict}", body)


# ---------------------------------------------------------------------------------------------- the API


def test_a_proposal_approved_by_another_owner_publishes_exactly_one_version_naming_both(four_eyes):
    api = four_eyes
    before = rows()
    direct = api.post(OWNER, f"{URL}/versions", {"source": LIGHTER, "reason": "alone"})
    assert direct.status_code == 403 and direct.get_json()["error"]["code"] == "four_eyes"
    assert "second process owner" in error(direct) and rows() == before
    made = propose(api)
    assert made.status_code == 201, made.get_json()
    proposal = made.get_json()
    assert (proposal["status"], proposal["base_version"], proposal["proposed_by"], proposal["approved_by"]) == (
        "pending", 1, OWNER, None)
    assert rows() == before  # proposed, not published
    approved = decide(api, SECOND, proposal["id"])
    assert approved.status_code == 200, approved.get_json()
    assert {k: approved.get_json()[k] for k in ("status", "approved_by", "published_version", "proposed_by")} == {
        "status": "published", "approved_by": SECOND, "published_version": 2, "proposed_by": OWNER}
    assert [(r[1], r[2], r[4], r[5]) for r in rows() if r[1] == KEY] == [
        (KEY, 1, "tests", "the shipped template"), (KEY, 2, OWNER, "light work deducts 5 from December")]
    assert len(rows()) == len(before) + 1
    assert api.get(OWNER, URL).get_json()["source"] == LIGHTER
    again = decide(api, SECOND, proposal["id"])
    assert again.status_code == 409 and len(rows()) == len(before) + 1
    listed = api.get("hr", PROPOSALS).get_json()["items"]
    assert [(p["id"], p["status"], p["approved_by"]) for p in listed] == [(proposal["id"], "published", SECOND)]


def test_the_proposer_never_approves_their_own_and_nothing_is_published(four_eyes):
    api = four_eyes
    proposal = propose(api).get_json()
    before = stored()
    refused = decide(api, OWNER, proposal["id"])
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["error"]["code"] == "four_eyes" and "not the one who proposed it" in error(refused)
    assert stored() == before
    assert proposals()[0][3] == "pending"


def test_a_proposal_made_on_a_version_that_is_no_longer_the_latest_is_stale(four_eyes):
    api = four_eyes
    first = propose(api).get_json()
    second = propose(api, LIGHTEST, "light work deducts 3").get_json()
    assert first["base_version"] == second["base_version"] == 1
    assert decide(api, SECOND, first["id"]).status_code == 200
    before = stored()
    stale = decide(api, SECOND, second["id"])
    assert stale.status_code == 409, stale.get_json()
    assert stale.get_json()["error"]["code"] == "stale_version" and "version 2 is the latest" in error(stale)
    assert stored() == before
    assert [r[2] for r in rows() if r[1] == KEY] == [1, 2]


def test_a_rejected_proposal_keeps_why_and_publishes_nothing(four_eyes):
    api = four_eyes
    proposal = propose(api).get_json()
    before = stored()
    assert decide(api, SECOND, proposal["id"], "rejection", {}).status_code == 400  # a reason is required
    assert decide(api, SECOND, proposal["id"], "rejection", {"reason": "   "}).status_code == 422
    assert decide(api, SECOND, proposal["id"], "rejection", {"reason": "x" * 2001}).status_code == 400
    assert stored() == before
    rejected = decide(api, SECOND, proposal["id"], "rejection", {"reason": "5 is too lenient"})
    assert rejected.status_code == 200, rejected.get_json()
    assert {k: rejected.get_json()[k] for k in ("status", "rejected_by", "rejection", "published_version")} == {
        "status": "rejected", "rejected_by": SECOND, "rejection": "5 is too lenient", "published_version": None}
    assert rows() == before[0]
    late = decide(api, SECOND, proposal["id"])
    assert late.status_code == 409 and rows() == before[0]


def test_two_owners_approving_at_once_on_postgresql_publish_one_version(app, four_eyes, clock, database):
    if database["kind"] != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    proposal = propose(four_eyes).get_json()
    outcomes: dict[str, str] = {}
    started = threading.Event()

    with Session(db.engine) as first:
        templates.approve(first, Actor(SECOND, frozenset({"process_owner"})), KEY, proposal["id"], clock.now())

        def approve_too() -> None:
            with app.app_context(), Session(db.engine) as second:
                started.set()
                try:  # blocks on the proposal's row until the first approval commits, then finds it decided
                    templates.approve(second, Actor("owner3", frozenset({"process_owner"})), KEY, proposal["id"],
                                      clock.now())
                    second.commit()
                    outcomes["second"] = "published"
                except WrongState:
                    outcomes["second"] = "refused"

        worker = threading.Thread(target=approve_too)
        worker.start()
        started.wait(5)
        worker.join(0.5)  # give it time to reach the lock
        first.commit()
        worker.join(10)
    assert outcomes == {"second": "refused"}
    assert [r[2] for r in rows() if r[1] == KEY] == [1, 2]
    assert proposals()[0][3:6] == ("published", OWNER, SECOND)


def test_those_who_are_not_process_owners_are_refused_and_nothing_changes(four_eyes):
    api = four_eyes
    proposal = propose(api).get_json()
    before = stored()
    for user in ("hr", "lead"):
        assert propose(api, LIGHTEST, "mine now", user=user).status_code == 403
        assert decide(api, user, proposal["id"]).status_code == 403
        assert decide(api, user, proposal["id"], "rejection", {"reason": "no"}).status_code == 403
    assert stored() == before


def test_bad_proposals_are_refused_and_nothing_is_stored(four_eyes):
    api = four_eyes
    before = stored()
    assert propose(api, SHIPPED).status_code == 409  # the same text as version 1
    assert propose(api, "key: [field_service\n").status_code == 422
    assert propose(api, reason="  ").status_code == 422
    assert api.post(OWNER, "/api/v1/scoresheets/no_such_sheet/proposals",
                    {"source": SHIPPED, "reason": "new"}).status_code == 404
    assert decide(api, SECOND, 999).status_code == 404
    assert stored() == before
    other = propose(api).get_json()
    assert api.post(SECOND, f"/api/v1/scoresheets/repair/proposals/{other['id']}/approval").status_code == 404
    assert len(rows()) == len(before[0])


def test_without_the_setting_publishing_is_direct_as_before(api, published, clock):
    api.user(OWNER, "process_owner")
    publish_shipped(clock)
    response = api.post(OWNER, f"{URL}/versions", {"source": LIGHTER, "reason": "direct"})
    assert response.status_code == 201 and response.get_json()["version"] == 2
    assert proposals() == []


# ---------------------------------------------------------------------------------------------- the pages


@pytest.fixture
def person(app, staff, published, clock):
    app.config["WORKBENCH_FOUR_EYES"] = True
    for name, roles in {OWNER: ["process_owner"], SECOND: ["process_owner"], "hr": ["hr"]}.items():
        staff(name, *roles)
    publish_shipped(clock)
    return lambda name, language="en": Person(app, name, language)


PAGE = f"/workflows/score-sheets/{KEY}"


def test_on_the_page_a_proposal_waits_for_another_owner_who_approves_it(person):
    owner, second = person(OWNER), person(SECOND)
    assert "Submit for approval" in owner.get(PAGE).text
    done = owner.post(PAGE, {"source": LIGHTER, "reason": "lighter", "do": "publish"})
    assert done.status_code == 302
    assert [r[2] for r in rows() if r[1] == KEY] == [1]
    proposal_id = db.session.scalars(sa.select(ScoresheetProposal.id)).one()
    mine = owner.get(PAGE).text
    assert f'data-proposal="{proposal_id}" data-status="pending"' in mine and 'data-testid="approve"' not in mine
    refused = owner.post(f"{PAGE}/proposals/{proposal_id}/approval")
    assert refused.status_code == 403 and "not the one who proposed it" in refused.text
    assert [r[2] for r in rows() if r[1] == KEY] == [1]
    assert 'data-testid="approve"' in second.get(PAGE).text
    assert second.post(f"{PAGE}/proposals/{proposal_id}/approval").status_code == 302
    assert [(r[2], r[4], r[5]) for r in rows() if r[1] == KEY][-1] == (2, OWNER, "lighter")
    shown = second.get(PAGE).text
    assert f"published as v2, approved by {SECOND}" in shown
    assert "v2" in person(OWNER, "zh").get(PAGE).text and "由 owner2 批准" in person(OWNER, "zh").get(PAGE).text


def test_on_the_page_a_proposal_is_rejected_with_a_reason_and_others_are_refused(person):
    owner, second, hr = person(OWNER), person(SECOND), person("hr")
    assert owner.post(PAGE, {"source": LIGHTER, "reason": "lighter", "do": "publish"}).status_code == 302
    proposal_id = db.session.scalars(sa.select(ScoresheetProposal.id)).one()
    hr.get(PAGE)
    assert hr.post(f"{PAGE}/proposals/{proposal_id}/approval").status_code == 403
    assert second.post(f"{PAGE}/proposals/{proposal_id}/rejection", {"reason": ""}).status_code == 422
    before = stored()
    assert second.post(f"{PAGE}/proposals/{proposal_id}/rejection", {"reason": "too lenient"}).status_code == 302
    assert proposals()[0][3:8] == ("rejected", OWNER, None, SECOND, "too lenient")
    assert rows() == before[0]
    assert f"rejected by {SECOND}: too lenient" in owner.get(PAGE).text
