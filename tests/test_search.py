"""Search and lists on the staff desk: text over case data, comments and numbers; filters by date, state,
assignee and whose cases; sortable columns; CSV export through the signed-in session; saved filters."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.engine import search
from workflow.models import Case

from .test_desk import people  # noqa: F401  (the fixture)

ROWS = re.compile(r'data-case="(\d+)"')


def listed(page: str) -> list[int]:
    return [int(n) for n in ROWS.findall(page)]


@pytest.fixture
def three(people):  # noqa: F811
    """Three returns: one names XJ-200 in its products, one an order SO-88231 in a note, one "noise" in a
    step comment (on the returns_inspection: its opening comment)."""
    lead = people("lead")
    a = lead.open_return({"customer": "华东机电", "products": "XJ-200 × 3", "reason": "外壳破损"})
    b = lead.open_return({"customer": "Beta", "products": "AB-1 × 1", "reason": "wrong colour"})
    lead.get(f"/cases/{b}")
    assert lead.post(f"/cases/{b}/notes", {"note": "Customer order SO-88231 attached"}).status_code == 302
    lead.get("/cases/new/return_inspection")
    response = lead.post("/cases/new/return_inspection", {"customer": "Gamma", "products": "CD-9 × 2",
                                                          "quantity": "2", "reason": "外观",
                                                          "comment": "Customer reports NOISE when running"})
    c = int(response.headers["Location"].rsplit("/", 1)[1])
    return lead, {"xj": a, "so": b, "noise": c}


@pytest.mark.parametrize("needle, which", [("XJ-200", "xj"), ("xj-200", "xj"), ("SO-88231", "so"), ("88231", "so"),
                                           ("noise", "noise"), ("外壳破损", "xj"), ("华东", "xj")])
def test_the_text_search_finds_data_comments_and_notes(three, needle, which):
    lead, cases = three
    found = listed(lead.get("/cases", query_string={"q": needle}).text)
    assert found == [cases[which]]


def test_a_search_with_like_wildcards_matches_them_literally(three):
    lead, _ = three
    assert listed(lead.get("/cases", query_string={"q": "%"}).text) == []
    assert listed(lead.get("/cases", query_string={"q": "_"}).text) == []


def test_filters_by_assignee_view_and_opening_date(three, frozen_clock):
    lead, cases = three
    lead.get(f"/cases/{cases['so']}")
    lead.post(f"/cases/{cases['so']}/assignee", {"assignee": "lead2"})
    assert listed(lead.get("/cases?assignee=lead2").text) == [cases["so"]]
    assert set(listed(lead.get("/cases?view=unassigned").text)) == {cases["xj"], cases["noise"]}
    assert listed(lead.get("/cases?view=team").text) == [cases["so"]]
    assert listed(lead.get("/cases?view=mine").text) == []
    day = frozen_clock.now.date().isoformat()
    assert len(listed(lead.get(f"/cases?from={day}&to={day}").text)) == 3
    assert listed(lead.get("/cases?from=2030-01-01").text) == []
    assert lead.get("/cases?from=yesterday").status_code == 400


def test_columns_sort_both_ways(three):
    lead, cases = three
    ascending = listed(lead.get("/cases?sort=number").text)
    descending = listed(lead.get("/cases?sort=number&dir=desc").text)
    numbers = dict(db.session.execute(sa.select(Case.id, Case.number)).all())
    assert [numbers[i] for i in ascending] == sorted(numbers[i] for i in ascending)
    assert descending == list(reversed(ascending))
    page = lead.get("/cases?sort=number").text
    assert 'aria-sort="ascending"' in page and "sort=number&amp;dir=desc" in page
    assert listed(lead.get("/cases?sort=password").text) == listed(lead.get("/cases").text)  # unknown: ignored


def test_the_list_exports_as_csv_through_the_session_with_its_filters(three, app):
    lead, cases = three
    response = lead.get("/cases/export.csv", query_string={"scope": "all", "q": "XJ-200"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "Case" and len(rows) == 2 and rows[1][0] == db.session.get(Case, cases["xj"]).number
    anonymous = app.test_client().get("/cases/export.csv")
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.headers["Location"]


def test_a_csv_cell_that_a_spreadsheet_would_run_is_quoted(people):  # noqa: F811
    lead = people("lead")
    lead.open_return({"customer": '=HYPERLINK("http://evil")'})
    rows = list(csv.reader(io.StringIO(lead.get("/cases/export.csv").data.decode("utf-8-sig"))))
    assert rows[1][3].startswith("'=HYPERLINK")


def test_saved_filters_belong_to_their_user(three, people):  # noqa: F811
    lead, _ = three
    lead.get("/cases")
    response = lead.post("/filters", {"scope": "all", "name": "XJ parts", "q": "XJ-200", "csrf_token": lead.token})
    assert response.status_code == 302 and "q=XJ-200" in response.headers["Location"]
    page = lead.get("/cases").text
    assert "XJ parts" in page and "?q=XJ-200" in page
    other = people("lead2")
    assert "XJ parts" not in other.get("/cases").text
    saved = db.session.scalar(sa.select(search.SavedFilter))
    assert other.post(f"/filters/{saved.id}/delete", {"scope": "all"}).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(search.SavedFilter)) == 1
    lead.post(f"/filters/{saved.id}/delete", {"scope": "all"})
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(search.SavedFilter)) == 0


@pytest.mark.parametrize("name", ["", "x" * 81])
def test_a_filter_without_a_fitting_name_is_refused(three, name):
    lead, _ = three
    lead.get("/cases")
    response = lead.post("/filters", {"scope": "all", "name": name, "q": "x"})
    assert response.status_code == 302
    assert "Name the filter" in lead.get(response.headers["Location"]).text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(search.SavedFilter)) == 0


def test_the_inbox_offers_mine_team_and_unassigned(three):
    lead, cases = three
    lead.get(f"/cases/{cases['xj']}")
    lead.post(f"/cases/{cases['xj']}/assignee", {"assignee": "@me"})
    page = lead.get("/?view=mine").text
    assert listed(page) == [cases["xj"]]
    assert 'data-view="mine" aria-current="page"' in page
    assert cases["xj"] not in listed(lead.get("/?view=unassigned").text)
