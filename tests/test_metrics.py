"""GET /metrics: what it counts, with which labels, who may read it, and that it names no case."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from bench.__main__ import MAX_FLOOR_RATIO, MAX_SWEEP_MS, MIN_HTTP_RATIO, guard
from bench.common import Row
from web.extensions import db
from workflow.engine import Actor, advance, get_case
from workflow.engine.refusals import CODES
from workflow.engine.worker import fire_due_timers

TOKEN = "metrics-scraper-token-for-the-tests"
RETURN = {"customer": "Northwind Traders", "products": "XJ-200 × 3", "quantity": 3, "reason": "noise"}
RECEIPT = {"received_quantity": 3, "packaging_intact": True, "heavy_damage": False, "rain_wetted": False,
           "returned_by": "王五"}
ACTION_RULE = "/api/v1/cases/<id:case_id>/actions/<action>"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: FlaskClient) -> tuple[str, Samples]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def metrics_on(app: Flask) -> None:
    app.config["METRICS_TOKEN"] = TOKEN


def test_metrics_is_a_404_unless_a_token_is_set_and_a_401_without_it(app, client):
    assert client.get("/metrics").status_code == 404
    app.config["METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert "workflow_" not in wrong.get_data(as_text=True)


def test_a_transition_and_a_refusal_count_once_with_their_labels_and_no_case_data(api, client, metrics_on):
    case = api.open("service_lead", "return_inspection", RETURN)
    _, before = scrape(client)
    case = api.act("service_lead", case, "collect_opinions", {"application_ref": "RA-77", "opinions": "fine"})
    api.act("service_lead", case, "collect_opinions", {"application_ref": "RA-77", "opinions": "again"}, status=409)
    text, after = scrape(client)

    moved = ("workflow_transitions_total", {"workflow": "return_inspection", "action": "collect_opinions"})
    assert value(after, moved[0], **moved[1]) - value(before, moved[0], **moved[1]) == 1
    for code in CODES:
        grew = value(after, "workflow_refusals_total", code=code) - value(before, "workflow_refusals_total", code=code)
        assert grew == (1 if code == "wrong_state" else 0), code
    # Nothing of the case: neither its id in a path, nor its number, nor what the customer wrote.
    for secret in ("Northwind", "RA-77", "fine", f"/cases/{case['id']}", "XJ-200"):
        assert secret not in text
    if case.get("number"):
        assert case["number"] not in text


def test_requests_are_labelled_by_the_url_rule_never_the_path(api, client, metrics_on):
    case = api.open("service_lead", "return_inspection", RETURN)
    _, before = scrape(client)
    api.act("service_lead", case, "collect_opinions", {"application_ref": "A", "opinions": "ok"})
    assert client.get(f"/no/such/page/{case['id']}").status_code == 404
    text, after = scrape(client)

    timed = {"route": ACTION_RULE, "method": "POST"}
    count = "workflow_http_request_duration_seconds_count"
    assert value(after, count, **timed) - value(before, count, **timed) == 1
    assert value(after, "workflow_http_request_duration_seconds_bucket", le="+Inf", **timed) == value(after, count,
                                                                                                       **timed)
    answered = "workflow_http_requests_total"
    assert value(after, answered, status="200", **timed) - value(before, answered, status="200", **timed) == 1
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "404"}
    assert value(after, answered, **unmatched) - value(before, answered, **unmatched) == 1
    assert "/no/such/page" not in text
    assert f"/cases/{case['id']}" not in text


def test_a_rolled_back_move_is_not_counted(api, client, metrics_on, clock):
    case = api.open("service_lead", "return_inspection", RETURN)
    labels = {"workflow": "return_inspection", "action": "collect_opinions"}
    _, before = scrape(client)
    with Session(db.engine) as session:
        advance(session, clock, get_case(session, case["id"]), "collect_opinions",
                Actor("service_lead", frozenset({"service_lead"})), {"application_ref": "A", "opinions": "ok"})
        session.rollback()
    _, after = scrape(client)
    assert value(after, "workflow_transitions_total", **labels) == value(before, "workflow_transitions_total", **labels)


def test_overdue_cases_sweep_lag_and_the_sweep_itself(api, client, metrics_on, frozen_clock, clock):
    case = api.open("service_lead", "return_inspection", RETURN)
    case = api.act("service_lead", case, "collect_opinions", {"application_ref": "RA-1", "opinions": "ok"})
    case = api.act("quality_director", case, "approve")
    api.act("returns_clerk", case, "receive", RECEIPT)  # starts the 48-hour inspection
    _, fresh = scrape(client)
    assert value(fresh, "workflow_cases_overdue", workflow="return_inspection") == 0
    assert value(fresh, "workflow_cases_overdue", workflow="complaint") == 0  # every published workflow has a series
    assert value(fresh, "workflow_timer_sweep_lag_seconds") == 0

    frozen_clock.advance(days=5)
    _, late = scrape(client)
    assert value(late, "workflow_cases_overdue", workflow="return_inspection") == 1
    assert value(late, "workflow_timer_sweep_lag_seconds") > 0

    report = fire_due_timers(lambda: Session(db.engine), clock)
    assert report.cases == 1
    _, swept = scrape(client)
    assert value(swept, "workflow_timer_sweep_duration_seconds_count") - \
        value(late, "workflow_timer_sweep_duration_seconds_count") == 1
    assert value(swept, "workflow_timer_swept_cases_total") - value(late, "workflow_timer_swept_cases_total") == 1
    assert value(swept, "workflow_timer_sweep_lag_seconds") == 0
    assert value(swept, "workflow_cases_overdue", workflow="return_inspection") == 1  # still overdue: nobody acted


# -- the benchmark guard (bench/__main__.py): CI fails when a gain rots -------------------------------------


def _rows(floor: float, http: list[float], verified: bool | None = True, sweep: float = 10.0) -> list[Row]:
    rows = [Row("1 engine vs SQL floor", "replacement_part: one transition (mean of 8)", 2.0, 0.2, ratio=floor * 3,
                ratio_label="ours ÷ floor"),
            Row("1 engine vs SQL floor", "all five workflows (mean of 40)", 2.0, 0.2, ratio=floor,
                ratio_label="ours ÷ floor")]
    rows += [Row("3 HTTP (gunicorn ×2, PostgreSQL)", f"{n} clients: transitions/s vs hello/s", 100, 1000, "req/s",
                 ratio=r, ratio_label="ours ÷ hello") for n, r in zip((8, 32), http, strict=True)]
    rows.append(Row("4 scale (PostgreSQL)", "10⁴ cases: sweep of 10 due timers — cases swept per run: [10, 10, 10]",
                    sweep, 10.0, ratio=sweep / 10.0, ratio_label="÷ 10³"))
    if verified is not None:
        rows.append(Row("3 HTTP scale-out", "2 app servers + 2 timer workers: transitions/s", 100, None, "req/s",
                        extra={"chains_verified": verified}))
    return rows


def test_the_guard_passes_rows_within_the_bounds():
    assert guard(_rows(MAX_FLOOR_RATIO, [MIN_HTTP_RATIO, MIN_HTTP_RATIO * 2], sweep=MAX_SWEEP_MS)) == []


@pytest.mark.parametrize("rows, blamed", [
    (_rows(MAX_FLOOR_RATIO * 1.01, [0.1, 0.1]), "floor"),
    (_rows(1.0, [0.1, MIN_HTTP_RATIO * 0.99]), "32 clients"),
    (_rows(1.0, [0.1, 0.1], verified=False), "verif"),
    (_rows(1.0, [0.1, 0.1], sweep=MAX_SWEEP_MS * 1.01), "10⁴ cases: sweep of 10 due timers"),
])
def test_the_guard_names_each_regression(rows: list[Row], blamed: str):
    problems = guard(rows)
    assert len(problems) == 1 and blamed in problems[0], problems


def test_the_guard_judges_only_what_ran():
    assert guard([]) == []
    assert guard(_rows(1.0, [0.1, 0.1], verified=None)[:2]) == []
