"""The audit area's pages: the search (with its export links and the last verification), the replay with
its slider (a form that works without JavaScript), the access log; each for whom the policy lets in."""

from __future__ import annotations

import contextvars
import re

import sqlalchemy as sa

from web.extensions import db
from workflow.engine.audit_models import AuditAccess

from .paths import golden, take
from .test_ui import Person

REPAIR = golden("repair_dispatch")["workshop_repair_sent_back_once_then_rated_well"]


def _case(api, frozen_clock, steps: int = 3):
    api.user("auditor", "auditor", password="auditor-demo-pass")  # the path helpers read as the auditor
    api.user("technician", "technician", "employee")
    case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
    for step in REPAIR.steps[:steps]:
        frozen_clock.advance(hours=2)
        case = take(api, case, step)
    return case


def test_the_audit_search_lists_rows_that_link_to_the_replay_and_pages_on(app, api, staff, frozen_clock):
    case = _case(api, frozen_clock)
    staff("auditor", "auditor")
    auditor = Person(app, "auditor")
    page = auditor.get("/audit", query_string={"limit": "2"})
    assert page.status_code == 200
    assert 'href="/audit"' in page.text  # the menu entry
    links = re.findall(r'href="(/audit/cases/\d+\?as_of=[^"]+)"', page.text)
    assert len(links) == 2
    assert 'rel="next"' in page.text
    following = re.search(r'href="([^"]+)" rel="next"', page.text).group(1).replace("&amp;", "&")
    second = auditor.get(following)
    assert re.findall(r'href="(/audit/cases/\d+\?as_of=[^"]+)"', second.text)[0] not in links
    replay = auditor.get(links[1].replace("&amp;", "&"))
    assert replay.status_code == 200
    assert 'type="range"' in replay.text and 'data-testid="replay-state"' in replay.text
    assert f"/audit/cases/{case['id']}?step=0" in replay.text  # every moment as a plain link


def test_the_slider_form_shows_the_chosen_moment(app, api, staff, frozen_clock):
    case = _case(api, frozen_clock)
    staff("auditor", "auditor")
    auditor = Person(app, "auditor")
    first = auditor.get(f"/audit/cases/{case['id']}", query_string={"step": "0"})
    last = auditor.get(f"/audit/cases/{case['id']}")
    assert "1 row(s) up to this moment" in first.text
    assert "4 row(s) up to this moment" in last.text
    looks = db.session.scalars(sa.select(AuditAccess.kind).where(AuditAccess.actor == "auditor")).all()
    assert looks == ["replay", "replay"]


def test_a_bad_search_is_a_422_page_naming_the_field(app, api, staff, frozen_clock):
    staff("auditor", "auditor")
    auditor = Person(app, "auditor")
    page = auditor.get("/audit", query_string={"since": "2026-11-20", "until": "2026-11-01"})
    assert page.status_code == 422 and "until:" in page.text
    assert auditor.get("/audit", query_string={"cursor": "forged"}).status_code == 422
    assert auditor.get("/audit/cases/1", query_string={"as_of": "2026-11-20"}).status_code == 404


def test_the_audit_pages_are_closed_to_others_and_the_log_to_auditors(app, api, staff, frozen_clock):
    case = _case(api, frozen_clock, 1)
    staff("clerk", "service_clerk")
    staff("auditor", "auditor")
    staff("boss", "admin")
    clerk, auditor, boss = Person(app, "clerk"), Person(app, "auditor"), Person(app, "boss")
    assert clerk.get("/audit").status_code == 403
    assert clerk.get(f"/audit/cases/{case['id']}").status_code == 403
    assert 'href="/audit"' not in clerk.get("/cases").text
    assert auditor.get("/audit/access-log").status_code == 403
    auditor.get(f"/audit/cases/{case['id']}")
    log = boss.get("/audit/access-log")
    assert log.status_code == 200 and "replay" in log.text and "auditor" in log.text


def test_the_export_links_stream_a_file_that_the_manifest_signs(app, api, staff, frozen_clock, tmp_path, runner):
    app.config["AUDIT_KEY"] = "a key that lives only outside the database"
    _case(api, frozen_clock)
    staff("auditor", "auditor")
    auditor = Person(app, "auditor")
    page = auditor.get("/audit").text
    csv_url, manifest_url = (re.search(rf'href="(/audit/{name}[^"]*)"', page).group(1).replace("&amp;", "&")
                             for name in ("export.csv", "manifest.json"))
    # A streamed body is read in the request's own context, as a server would, and closed there: closing ends
    # the request, its session and its transaction (left open, it would hold its locks past the test).
    def read() -> bytes:
        response = auditor.client.get(csv_url, headers=auditor.headers)
        try:
            return response.data
        finally:
            response.close()

    data = contextvars.Context().run(read)
    (tmp_path / "e.csv").write_bytes(data)
    (tmp_path / "m.json").write_bytes(auditor.get(manifest_url).data)
    result = runner.invoke(args=["audit", "verify-export", str(tmp_path / "e.csv"), "--manifest",
                                 str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output


def test_time_in_state_is_measured_from_the_history_and_drawn_as_a_heatmap(app, api, staff, frozen_clock):
    from datetime import timedelta

    from workflow.engine import time_in_state
    from workflow.engine.users import actor_of, user_by_name

    api.user("auditor", "auditor", password="auditor-demo-pass")
    api.user("technician", "technician", "employee")
    start = frozen_clock.now
    for hours in (2, 4, 12):  # three cases, each in its first state for these hours before the first step
        case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
        frozen_clock.advance(hours=hours)
        take(api, case, REPAIR.steps[0])
    opened = golden_paths_first_state()
    auditor = actor_of(user_by_name(db.session, "auditor"))
    figures = {f.state: f for f in time_in_state.time_in_state(
        db.session, auditor, "repair_dispatch", [opened], frozenset(), start, frozen_clock.now)}
    assert figures[opened].stays == 3
    assert figures[opened].median == timedelta(hours=4) and figures[opened].p90 == timedelta(hours=12)
    staff("auditor", "auditor")
    person = Person(app, "auditor")
    query = {"workflow": "repair_dispatch", "since": start.isoformat(), "until": frozen_clock.now.isoformat()}
    page = person.get("/audit/reports/time-in-state", query_string=query)
    assert page.status_code == 200 and 'data-testid="heatmap"' in page.text and "4 h" in page.text
    svg = person.get("/audit/reports/time-in-state.svg", query_string=query)
    assert svg.mimetype == "image/svg+xml" and b"#dc2626" in svg.data and b"Median 4 h" in svg.data
    csv_text = person.get("/audit/reports/time-in-state.csv", query_string=query).get_data(as_text=True)
    assert f"{opened},3,4.0,12.0" in csv_text
    bad = person.get("/audit/reports/time-in-state", query_string={**query, "until": "2020-01-01"})
    assert bad.status_code == 422
    assert person.get("/audit/reports/time-in-state", query_string={"workflow": "nope"}).status_code == 404


def golden_paths_first_state() -> str:
    from workflow.definitions import load_text

    from .conftest import ROOT

    path = ROOT / "workflow" / "definitions" / "repair_dispatch.yaml"
    return load_text(path.read_text("utf-8"), str(path), "repair_dispatch").initial_state


def test_the_sla_report_draws_a_chart_without_script_and_downloads_as_csv(app, api, staff, frozen_clock):
    staff("auditor", "auditor")
    staff("clerk", "service_clerk")
    person = Person(app, "auditor")
    query = {"workflow": "repair_dispatch", "month": "2026-11"}
    page = person.get("/audit/reports/sla", query_string=query)
    assert page.status_code == 200 and 'data-testid="sla-chart"' in page.text
    svg = person.get("/audit/reports/sla.svg", query_string=query)
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data and b"<script" not in svg.data
    csv_text = person.get("/audit/reports/sla.csv", query_string=query).get_data(as_text=True)
    assert "cases,0,0" in csv_text
    assert person.get("/audit/reports/sla", query_string={**query, "month": "11/2026"}).status_code == 422
    assert Person(app, "clerk").get("/audit/reports/sla", query_string=query).status_code == 403
