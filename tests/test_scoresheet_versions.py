"""Score-sheet templates published and versioned like definitions (issue 13, item 4): loading publishes a
version only when a template changed, a process owner publishes an edited template with a reason, a scored
sheet keeps the version it was scored with, a version is never changed, and every refusal writes nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from web.extensions import db
from workflow.appraisal import templates
from workflow.definitions.scoresheet import SCORESHEETS_DIR

from .test_paths_appraisal import DEPT_HEAD, FIRST, SHEET, SUPERVISOR, people, reach, scored
from .test_ui import Person

KEY = "field_service"
SHIPPED = (SCORESHEETS_DIR / f"{KEY}.yaml").read_text("utf-8")
LIGHT = "      - key: light_workload\n"
# light_workload deducts 10 in the shipped sheet; version 2 deducts 5.
assert SHIPPED.count("        points: 10\n  - key: customer_communication") == 1
LIGHTER = SHIPPED.replace("        points: 10\n  - key: customer_communication",
                          "        points: 5\n  - key: customer_communication")
OWNER = "owner"
URL = f"/api/v1/scoresheets/{KEY}"


def rows() -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT id, key, version, sha256, published_by, reason FROM scoresheet_versions ORDER BY id"))]


def publish_shipped(clock) -> None:
    templates.publish_shipped(db.session, "tests", clock.now())
    db.session.commit()


def error(response) -> str:
    """The refusal's message and its per-field reasons, as one text."""
    body = response.get_json()["error"]
    return " ".join([body["message"], *map(str, body.get("fields", {}).values())])


def publish(api, source: str = LIGHTER, reason: str | None = "light work deducts 5 from December",
            user: str = OWNER):
    api.user(OWNER, "process_owner")
    body: dict[str, Any] = {"source": source}
    if reason is not None:
        body["reason"] = reason
    return api.post(user, f"{URL}/versions", body)


# ---------------------------------------------------------------------------------------------- loading


def test_loading_publishes_each_template_once_and_reloading_publishes_nothing(app, runner):
    first = runner.invoke(args=["workflow", "load", "--reason", "first load"])
    assert first.exit_code == 0, first.output
    shipped = sorted(p.stem for p in SCORESHEETS_DIR.glob("*.yaml"))
    assert [(r[1], r[2], r[5]) for r in rows()] == [(k, 1, "first load") for k in shipped]
    assert f"score sheet {KEY}: version 1 published" in first.output
    before = rows()
    again = runner.invoke(args=["workflow", "load"])
    assert again.exit_code == 0, again.output
    assert f"score sheet {KEY}: version 1 unchanged" in again.output
    assert rows() == before


def test_the_demo_publishes_the_templates(app, runner):
    result = runner.invoke(args=["workflow", "demo"])
    assert result.exit_code == 0, result.output
    assert {r[1] for r in rows()} == {p.stem for p in SCORESHEETS_DIR.glob("*.yaml")}
    assert all(r[2] == 1 and r[4] == "demo" for r in rows())


# ---------------------------------------------------------------------------------------------- the API


def test_a_process_owner_publishes_a_new_version_with_a_reason(api, published, clock):
    publish_shipped(clock)
    response = publish(api)
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert (answer["version"], answer["published_by"], answer["reason"]) == (
        2, OWNER, "light work deducts 5 from December")
    listing = api.get(OWNER, "/api/v1/scoresheets").get_json()["items"]
    mine = next(t for t in listing if t["key"] == KEY)
    assert mine["latest"] == 2 and [v["version"] for v in mine["versions"]] == [2, 1]
    assert api.get(OWNER, f"{URL}?version=1").get_json()["source"] == SHIPPED
    assert api.get(OWNER, URL).get_json() == {"key": KEY, "version": 2, "source": LIGHTER}
    assert api.get(OWNER, f"{URL}?version=9").status_code == 404


def test_bad_yaml_is_refused_with_its_line_and_nothing_is_stored(api, published, clock):
    publish_shipped(clock)
    before = rows()
    broken = SHIPPED.replace(LIGHT, "      - key: light_workload\n        pionts: 3\n", 1)
    line = broken.splitlines().index("        pionts: 3") + 1
    response = publish(api, broken)
    assert response.status_code == 422
    assert f"line {line}" in error(response)
    not_yaml = publish(api, "key: [field_service\n")
    assert not_yaml.status_code == 422 and "line" in error(not_yaml)
    other_key = publish(api, SHIPPED.replace("key: field_service", "key: repair", 1))
    assert other_key.status_code == 422 and "file name" in error(other_key)
    assert rows() == before


def test_a_reason_is_required_and_the_same_text_publishes_nothing(api, published, clock):
    publish_shipped(clock)
    before = rows()
    assert publish(api, reason=None).status_code == 400  # the contract: a reason is a required part
    assert publish(api, reason="   ").status_code == 422
    same = publish(api, SHIPPED)
    assert same.status_code == 409 and "version 1" in error(same)
    assert publish(api, reason="x" * (templates.MAX_REASON + 1)).status_code == 400
    assert api.post(OWNER, "/api/v1/scoresheets/no_such_sheet/versions",
                    {"source": SHIPPED, "reason": "new"}).status_code == 404
    assert rows() == before


def test_a_user_without_the_role_is_refused_and_nothing_changes(api, published, clock):
    publish_shipped(clock)
    api.user(OWNER, "process_owner")
    api.user("hr", "hr")
    api.user("lead", "service_lead")
    before = rows()
    for user in ("hr", "lead"):
        response = api.post(user, f"{URL}/versions", {"source": LIGHTER, "reason": "mine now"})
        assert response.status_code == 403, response.get_json()
    assert rows() == before
    # Templates are the appraisal's rules: hr reads them, a service lead holding no appraisal role does not.
    assert api.get("hr", "/api/v1/scoresheets").status_code == 200
    assert api.get("lead", "/api/v1/scoresheets").status_code == 404


# ---------------------------------------------------------------------------------------------- immutability


@pytest.mark.parametrize("statement", [
    "UPDATE scoresheet_versions SET source = 'x'",
    "UPDATE scoresheet_versions SET reason = 'rewritten'",
    "DELETE FROM scoresheet_versions",
])
def test_a_published_version_is_never_changed(app, clock, statement):
    publish_shipped(clock)
    before = rows()
    with pytest.raises(DBAPIError, match="append-only|permission denied"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert rows() == before


# ---------------------------------------------------------------------------------------------- scoring


def test_a_sheet_scored_under_v1_stays_on_v1_after_v2_is_published(api, published, clock):
    people(api)
    publish_shipped(clock)
    case = reach(api, FIRST, "scoring")
    case = api.act(SUPERVISOR, case, "score", scored({"light_workload": 1}))
    sheet = case["data"]["sheet"]
    assert (sheet["template"], sheet["template_version"], case["data"]["total_score"]) == (KEY, 1, "90")
    assert publish(api).status_code == 201
    # Returned and scored again after v2: still scored, and recorded, with v1.
    case = api.act(DEPT_HEAD, case, "return_to_scoring", {"reason": "light work was not that light"})
    case = api.act(SUPERVISOR, case, "score", scored({"light_workload": 1}))
    assert (case["data"]["sheet"]["template_version"], case["data"]["total_score"]) == (1, "90")
    # A sheet scored for the first time now is scored with v2.
    later = reach(api, FIRST, "scoring", {**SHEET, "period": "2026-12"})
    later = api.act(SUPERVISOR, later, "score", scored({"light_workload": 1}))
    assert (later["data"]["sheet"]["template_version"], later["data"]["total_score"]) == (2, "95")


def test_before_any_version_is_published_the_shipped_file_scores(api, published):
    people(api)
    case = reach(api, FIRST, "scoring")
    case = api.act(SUPERVISOR, case, "score", scored({"light_workload": 1}))
    assert (case["data"]["sheet"]["template_version"], case["data"]["total_score"]) == (None, "90")
    assert rows() == []


# ---------------------------------------------------------------------------------------------- the pages


@pytest.fixture
def person(app, staff):
    for name, roles in {OWNER: ["process_owner"], "hr": ["hr"], "lead": ["service_lead"]}.items():
        staff(name, *roles)
    return lambda name, language="en": Person(app, name, language)


def test_the_pages_list_versions_and_a_process_owner_publishes_from_the_editor(published, clock, person):
    publish_shipped(clock)
    owner = person(OWNER)
    listing = owner.get("/workflows/score-sheets")
    assert listing.status_code == 200 and f'data-template="{KEY}"' in listing.text
    page = owner.get(f"/workflows/score-sheets/{KEY}")
    assert page.status_code == 200 and "light_workload" in page.text
    broken = SHIPPED.replace(LIGHT, "      - key: light_workload\n        pionts: 3\n", 1)
    line = broken.splitlines().index("        pionts: 3") + 1
    checked = owner.post(f"/workflows/score-sheets/{KEY}", {"source": broken, "reason": "r", "do": "validate"})
    assert checked.status_code == 200 and f"Line {line}" in checked.text
    refused = owner.post(f"/workflows/score-sheets/{KEY}", {"source": broken, "reason": "r", "do": "publish"})
    assert refused.status_code == 422 and f"line {line}" in refused.text
    no_reason = owner.post(f"/workflows/score-sheets/{KEY}", {"source": LIGHTER, "reason": "", "do": "publish"})
    assert no_reason.status_code == 422
    assert [r[2] for r in rows() if r[1] == KEY] == [1]
    done = owner.post(f"/workflows/score-sheets/{KEY}", {"source": LIGHTER, "reason": "lighter", "do": "publish"})
    assert done.status_code == 302
    assert [(r[2], r[4], r[5]) for r in rows() if r[1] == KEY] == [(1, "tests", "the shipped template"),
                                                                    (2, OWNER, "lighter")]
    shown = owner.get(f"/workflows/score-sheets/{KEY}")
    assert "lighter" in shown.text and "v2" in shown.text


def test_the_pages_refuse_those_without_the_role(published, clock, person):
    publish_shipped(clock)
    before = rows()
    hr = person("hr")
    assert hr.get(f"/workflows/score-sheets/{KEY}").status_code == 200
    assert 'data-testid="publish"' not in hr.get(f"/workflows/score-sheets/{KEY}").text
    assert hr.post(f"/workflows/score-sheets/{KEY}", {"source": LIGHTER, "reason": "r",
                                                      "do": "publish"}).status_code == 403
    assert person("lead").get("/workflows/score-sheets").status_code == 404
    assert rows() == before
