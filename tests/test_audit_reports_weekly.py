"""The audit area's reports: cases opened and closed per week (chart, CSV, print) and the reports area,
from which auditors reach the monthly complaint report and the service targets."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from web.extensions import db
from workflow.engine import current_workflow
from workflow.models import Case, HistoryEntry

from .paths import golden, take
from .test_ui import Person

REPAIR = golden("repair_dispatch")["workshop_repair_sent_back_once_then_rated_well"]
MONDAYS = (date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30))
QUERY = {"workflow": "repair_dispatch", "since": "2026-11-16", "until": "2026-12-06"}


def _walk(api, frozen_clock, steps: int):
    case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
    for step in REPAIR.steps[:steps]:
        frozen_clock.advance(hours=1)
        case = take(api, case, step)
    return case


def _cases(api, frozen_clock) -> None:
    """Week of 16 Nov: one case opened and closed; week of 23 Nov: two opened, one closed; then nothing."""
    api.user("auditor", "auditor", password="auditor-demo-pass")
    api.user("technician", "technician", "employee")
    _walk(api, frozen_clock, len(REPAIR.steps))
    frozen_clock.now = datetime.combine(MONDAYS[1], time(9), tzinfo=frozen_clock.now.tzinfo)
    _walk(api, frozen_clock, len(REPAIR.steps))
    _walk(api, frozen_clock, 2)
    frozen_clock.now = datetime.combine(MONDAYS[2], time(12), tzinfo=frozen_clock.now.tzinfo) + timedelta(days=6)


def _direct_counts(app) -> list[tuple[str, int, int]]:
    """Per week, counted straight from the tables: cases created, and cases whose history moves them into a
    final state of the workflow."""
    tz = app.extensions["workflow_clock"].tz
    final = [n for n, s in current_workflow(db.session, "repair_dispatch")[1].definition.states.items() if s.final]
    counts = []
    for monday in MONDAYS:
        start = datetime.combine(monday, time(), tzinfo=tz)
        end = start + timedelta(days=7)
        opened = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(
            Case.workflow_key == "repair_dispatch", Case.created_at >= start, Case.created_at < end))
        closed = db.session.scalar(sa.select(sa.func.count(sa.distinct(HistoryEntry.case_id))).where(
            HistoryEntry.to_state.in_(final), HistoryEntry.at >= start, HistoryEntry.at < end))
        counts.append((monday.isoformat(), opened, closed))
    return counts


def test_the_weekly_report_counts_what_the_tables_hold(app, api, staff, frozen_clock):
    _cases(api, frozen_clock)
    staff("auditor", "auditor")
    auditor = Person(app, "auditor")
    counts = _direct_counts(app)
    assert [(o, c) for _, o, c in counts] == [(1, 1), (2, 1), (0, 0)]
    page = auditor.get("/audit/reports/weekly", query_string=QUERY)
    assert page.status_code == 200
    table = page.text[page.text.index('data-testid="weekly"'):]
    cells = re.findall(r"<tr><td>([\d-]+)</td><td>(\d+)</td><td>(\d+)</td></tr>", table)
    assert [(w, int(o), int(c)) for w, o, c in cells] == counts
    assert 'data-testid="weekly-chart"' in page.text and "data-print" in page.text
    csv_text = auditor.get("/audit/reports/weekly.csv", query_string=QUERY).get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert lines[0] == "week_starting,cases_opened,cases_closed"
    assert lines[1:] == [f"{w},{o},{c}" for w, o, c in counts]
    svg = auditor.get("/audit/reports/weekly.svg", query_string=QUERY)
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data and b"<script" not in svg.data
    assert b"2026-11-23" in svg.data and b"Cases opened" in svg.data


def test_a_bad_period_is_a_422_page_and_others_are_kept_out(app, api, staff, frozen_clock):
    staff("auditor", "auditor")
    staff("clerk", "service_clerk")
    auditor = Person(app, "auditor")
    backwards = auditor.get("/audit/reports/weekly", query_string={**QUERY, "since": "2026-12-01",
                                                                   "until": "2026-11-01"})
    assert backwards.status_code == 422 and "until: is before since" in backwards.text
    too_long = auditor.get("/audit/reports/weekly.csv", query_string={**QUERY, "since": "2020-01-01"})
    assert too_long.status_code == 422 and "at most 106" in too_long.get_data(as_text=True)
    garbled = auditor.get("/audit/reports/weekly.svg", query_string={**QUERY, "since": "16/11/2026"})
    assert garbled.status_code == 422 and "since: must be an ISO 8601 time" in garbled.get_data(as_text=True)
    assert auditor.get("/audit/reports/weekly", query_string={**QUERY, "since": "x" * 500}).status_code == 422
    assert auditor.get("/audit/reports/weekly", query_string={"workflow": "nope"}).status_code == 404
    clerk = Person(app, "clerk")
    for path in ("/audit/reports/weekly", "/audit/reports/weekly.csv", "/audit/reports/weekly.svg",
                 "/audit/reports"):
        assert clerk.get(path, query_string=QUERY).status_code == 403, path


def test_auditors_reach_the_complaint_report_and_the_service_targets_and_download_them_signed_in(
        app, api, staff, frozen_clock):
    staff("auditor", "auditor")
    auditor = Person(app, "auditor")
    assert 'data-testid="all-reports"' in auditor.get("/audit").text
    area = auditor.get("/audit/reports")
    assert area.status_code == 200
    for testid, page_path, csv_path, header in (
            ("complaint-report", "/reports/complaints/2026-10", "/reports/complaints/2026-10.csv",
             "编号 number,客户 customer"),
            ("service-targets", "/reports/service-targets/2026-10", "/reports/service-targets/2026-10.csv",
             "目标 target,依据 source")):
        item = area.text[area.text.index(f'data-testid="{testid}"'):]
        item = item[:item.index("</li>")]
        assert f'href="{page_path}"' in item and f'href="{csv_path}"' in item
        page = auditor.get(page_path)
        assert page.status_code == 200 and "data-print" in page.text, testid
        assert f'href="{csv_path}"' in page.text, testid  # the report's own page downloads in this session
        download = auditor.get(csv_path)
        assert download.status_code == 200 and download.mimetype == "text/csv", testid
        assert download.get_data(as_text=True).lstrip("\ufeff").startswith(header), testid
    assert auditor.get("/reports/complaints/2026-13.csv").status_code == 422
    assert auditor.get("/reports/service-targets/2099-01.csv").status_code == 422
    staff("clerk", "service_clerk")
    clerk = Person(app, "clerk")
    # The download answers whom the page answers: the policy's one question for each report.
    assert clerk.get("/reports/complaints/2026-10").status_code == 403
    assert clerk.get("/reports/complaints/2026-10.csv").status_code == 403
    for path in ("/reports/service-targets/2026-10", "/reports/service-targets/2026-10.csv"):
        assert clerk.get(path).status_code == 200, path
