"""Search and lists on the staff desk: text over case data, comments and numbers; filters by date, state,
assignee and whose cases; sortable columns; CSV export through the signed-in session; saved filters."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.engine import Actor, advance, fulltext, get_case, policy, search
from workflow.models import Case, HistoryEntry

from .test_desk import people  # noqa: F401  (the fixture)
from .test_ui import Person

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


# -- the search document (engine/fulltext.py) -------------------------------------------------------


LEAD = Actor("lead", frozenset({"service_lead"}))


def found_by_search(needle: str) -> set[int]:
    db.session.expire_all()
    return set(db.session.scalars(sa.select(Case.id).where(search.text_clause(needle))))


def found_by_scan(needle: str) -> set[int]:
    """What the search must find, worked out the slow way: every text of every case and of its history."""
    wanted = " ".join(needle.split()).lower()
    texts: dict[int, list[str]] = {}
    for case in db.session.scalars(sa.select(Case)):
        texts[case.id] = [case.number or "", *fulltext.pieces(case.data)]
    for entry in db.session.scalars(sa.select(HistoryEntry)):
        texts[entry.case_id] += fulltext.pieces(entry.comment, entry.inputs)
    bare = wanted.lstrip("#")
    return {case_id for case_id, found in texts.items()
            if any(wanted in " ".join(t.split()).lower() for t in found)
            or (bare.isdigit() and int(bare) == case_id)}


@pytest.fixture
def moved(three, clock):
    """`three`, and the XJ-200 case moved on by a step with inputs and a Chinese comment."""
    lead, cases = three
    case = get_case(db.session, cases["xj"])
    advance(db.session, clock, case, "collect_opinions", LEAD,
            {"application_ref": "SQ-4471", "opinions": "品质部同意退货"}, comment="电机异响严重，需返厂检测")
    db.session.commit()
    return lead, cases


@pytest.mark.parametrize("needle, which", [("电机异响", "xj"), ("异响", "xj"), ("SQ-4471", "xj"), ("品质部", "xj")])
def test_a_step_s_comment_and_inputs_are_found(moved, needle, which):
    lead, cases = moved
    assert listed(lead.get("/cases", query_string={"q": needle}).text) == [cases[which]]


def test_a_note_in_chinese_is_found(three):
    lead, cases = three
    assert lead.post(f"/cases/{cases['noise']}/notes", {"note": "已联系物流，安排上门检测"}).status_code == 302
    assert listed(lead.get("/cases", query_string={"q": "上门检测"}).text) == [cases["noise"]]
    assert listed(lead.get("/cases", query_string={"q": "安排 上门"}).text) == []  # not a word search


@pytest.mark.parametrize("needle", ["xj", "200", "xj-200 ×", "so-88231", "NOISE", "华东", "外壳", "beta", "customer",
                                    "×", "gamma", "异响", "sq-4471", "1", "#2", "wrong colour", "nothing like it"])
def test_the_search_finds_what_a_full_scan_finds(moved, needle):
    assert found_by_search(needle) == found_by_scan(needle)


def test_the_full_scan_itself_finds_something(moved):
    # the comparison above would hold trivially if neither found anything
    assert len(found_by_scan("xj")) == 1 and len(found_by_scan("customer")) == 2 and found_by_scan("zzz") == set()


def test_the_document_holds_what_a_rebuild_from_the_history_holds(moved):
    db.session.expire_all()
    for case in db.session.scalars(sa.select(Case)):
        rows = db.session.execute(sa.select(HistoryEntry.comment, HistoryEntry.inputs)
                                  .where(HistoryEntry.case_id == case.id).order_by(HistoryEntry.seq)).all()
        rebuilt = fulltext.document(case.number, case.data, [tuple(r) for r in rows])
        assert rebuilt and all(piece in case.search_text for piece in rebuilt.split(fulltext.SEPARATOR)), case.id


def test_a_case_the_user_may_not_see_is_not_found(three, staff, app):
    lead, cases = three
    staff("hr1", "hr")  # a role of the appraisal only: no returned-goods case is theirs to read
    hr = Person(app, "hr1")
    assert listed(lead.get("/cases", query_string={"q": "XJ-200"}).text) == [cases["xj"]]
    page = hr.get("/cases", query_string={"q": "XJ-200"})
    assert page.status_code == 200 and listed(page.text) == []
    assert listed(hr.get("/cases", query_string={"q": str(cases["xj"])}).text) == []  # nor by its id
    assert not policy.may_see(db.session, Actor("hr1", frozenset({"hr"})), db.session.get(Case, cases["xj"]))


def test_the_case_numbered_as_searched_comes_first(three):
    lead, cases = three
    number = db.session.get(Case, cases["xj"]).number
    # A later case that names the first one's number: most recent first would put it first.
    later = lead.open_return({"customer": "Delta", "reason": f"same fault as {number}"})
    assert listed(lead.get("/cases", query_string={"q": number}).text) == [cases["xj"], later]
    assert listed(lead.get("/cases", query_string={"q": number.lower()}).text) == [cases["xj"], later]
    assert listed(lead.get("/cases", query_string={"q": "XJ-200"}).text)[0] == later  # no number: most recent


def test_the_other_filters_narrow_a_search(three):
    lead, cases = three
    assert listed(lead.get("/cases", query_string={"q": "customer", "workflow": "return_inspection"}).text) \
        == [cases["noise"], cases["so"]]
    assert listed(lead.get("/cases", query_string={"q": "customer", "view": "unassigned",
                                                   "from": "2030-01-01"}).text) == []
    assert listed(lead.get("/cases", query_string={"q": "customer", "overdue": "1"}).text) == []



def test_the_api_finds_what_the_list_finds_and_keeps_to_what_the_caller_may_see(app, api):
    """`GET /api/v1/cases?q=` asks the lists' own clause: text anywhere in the case, visibility kept."""
    lead = "service_lead"
    hit = api.open(lead, "return_inspection", {"customer": "Northwind", "products": "XJ-200 × 3", "quantity": 3,
                                               "reason": "运行时有异响 noise"})
    api.open(lead, "return_inspection", {"customer": "Contoso", "products": "AB-1 × 1", "quantity": 1,
                                         "reason": "外观划伤"})
    for text in ("xj-200", "异响", "NOISE"):
        found = api.get(lead, f"/api/v1/cases?q={text}").get_json()
        assert [c["id"] for c in found["items"]] == [hit["id"]] and found["total"] == 1, text
    assert api.get(lead, "/api/v1/cases?q=nothing-like-it").get_json()["total"] == 0
    assert api.get("auditor", "/api/v1/cases?q=xj-200").get_json()["total"] == 1  # auditors read every case
    assert api.get("sales", "/api/v1/cases?q=xj-200").get_json()["total"] == 0  # not a case sales may see
    assert api.get(lead, "/api/v1/cases?q=" + "x" * 101).status_code in (400, 422)
