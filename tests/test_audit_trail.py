"""The auditors' workspace: the search over every history, its export and `verify-export`, the replay of a
case as of any moment, the last verification and the access log."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from web.extensions import db
from workflow.engine import trail
from workflow.engine.audit_models import AuditAccess, AuditRun
from workflow.models import HistoryEntry

from .paths import golden, take

KEY = "a key that lives only outside the database"
PATH = golden("replacement_part")["produced_after_returns_and_a_failed_receiving_check"]
REPAIR = golden("repair_dispatch")["workshop_repair_sent_back_once_then_rated_well"]
COMPARED = ("id", "number", "workflow", "version", "state", "state_label", "final", "data", "lock_version",
            "created_by", "created_at", "updated_at", "timers", "overdue")


def _walk(api, frozen_clock, path, opener: str, workflow: str, gap_hours: float) -> tuple[dict[str, Any], list]:
    case = api.open(opener, workflow, path.data)
    seen = [(frozen_clock.now, api.get("auditor", f"/api/v1/cases/{case['id']}").get_json())]
    for step in path.steps:
        frozen_clock.advance(hours=gap_hours / 2)
        seen.append((frozen_clock.now, api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()))
        frozen_clock.advance(hours=gap_hours / 2)
        case = take(api, case, step)
        seen.append((frozen_clock.now, api.get("auditor", f"/api/v1/cases/{case['id']}").get_json()))
    return case, seen


def as_of(api, case_id: int, moment, user: str = "auditor"):
    return api.get(user, f"/api/v1/cases/{case_id}", query_string={"as_of": moment.isoformat()})


# ------------------------------------------------------------------------------------------- replay


def test_replay_at_every_moment_of_a_long_path_equals_what_the_api_said_then(api, frozen_clock):
    api.user("auditor", "auditor")
    case, seen = _walk(api, frozen_clock, PATH, "service_specialist", "replacement_part", gap_hours=30)
    assert len(seen) == 2 * len(PATH.steps) + 1
    assert any(t["status"] in ("warning", "overdue") for _, answer in seen for t in answer["timers"])
    frozen_clock.advance(days=40)  # long after: the replay judges the timers at each moment, not now
    for moment, answer in seen:
        replayed = as_of(api, case["id"], moment)
        assert replayed.status_code == 200, replayed.get_json()
        body = replayed.get_json()
        assert {k: body[k] for k in COMPARED} == {k: answer[k] for k in COMPARED}, moment
        assert body["available_actions"] == []  # nobody acts in the past
        assert {c["action"] for c in body["could_act"]} >= {a["name"] for a in answer["available_actions"]}


def test_replay_before_the_case_existed_is_a_404_and_a_bad_moment_a_422(api, frozen_clock):
    api.user("auditor", "auditor")
    opened = frozen_clock.now
    case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
    response = as_of(api, case["id"], opened - timedelta(seconds=1))
    assert response.status_code == 404
    assert "did not exist yet" in response.get_json()["error"]["message"]
    response = as_of(api, case["id"], opened + timedelta(days=1))
    assert response.status_code == 422 and "as_of" in response.get_json()["error"]["fields"]
    response = api.get("auditor", f"/api/v1/cases/{case['id']}", query_string={"as_of": "the 3rd"})
    assert response.status_code == 422 and "ISO 8601" in response.get_json()["error"]["fields"]["as_of"]
    response = api.get("auditor", f"/api/v1/cases/{case['id']}", query_string={"as_of": "2" * 100})
    assert response.status_code == 400 and "as_of" in response.get_json()["error"]["fields"]


def test_replay_of_a_case_the_caller_may_not_see_is_a_404(api, frozen_clock):
    case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
    api.user("stranger", "nobody")
    assert as_of(api, case["id"], frozen_clock.now, user="stranger").status_code == 404


# ------------------------------------------------------------------------------------------- search


def _cases(api, frozen_clock, n: int = 3) -> list[dict[str, Any]]:
    api.user("technician", "technician", "employee")
    cases = []
    for i in range(n):
        case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
        frozen_clock.advance(minutes=7)
        for step in REPAIR.steps[: 2 + i]:
            case = take(api, case, step)
            frozen_clock.advance(minutes=13)
        cases.append(case)
    return cases


def _all_rows() -> list[HistoryEntry]:
    return list(db.session.scalars(sa.select(HistoryEntry).order_by(HistoryEntry.at, HistoryEntry.id)))


def _search(api, user: str = "auditor", **params: Any) -> list[dict[str, Any]]:
    """Every page of a search, following next_cursor."""
    rows, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = api.get(user, "/api/v1/history", query_string=query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        rows += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows


def test_a_search_matches_what_a_full_scan_finds_page_after_page(api, frozen_clock):
    api.user("auditor", "auditor")
    _cases(api, frozen_clock)
    rows = _all_rows()
    assert len(rows) > 6
    everything = _search(api, limit=4)
    assert [r["id"] for r in everything] == [r.id for r in rows]
    newest = _search(api, limit=3, order="desc")
    assert [r["id"] for r in newest] == [r.id for r in reversed(rows)]
    actor, action = rows[2].actor, rows[2].action
    assert [r["id"] for r in _search(api, actor=actor, limit=2)] == [r.id for r in rows if r.actor == actor]
    assert [r["id"] for r in _search(api, action=action)] == [r.id for r in rows if r.action == action]
    since, until = rows[3].at, rows[-2].at
    found = _search(api, since=since.isoformat(), until=until.isoformat(), limit=2)
    assert [r["id"] for r in found] == [r.id for r in rows if since <= r.at < until]
    to_state = rows[1].to_state
    assert [r["id"] for r in _search(api, to_state=to_state)] == [r.id for r in rows if r.to_state == to_state]


def test_text_is_found_in_comments_and_inputs_chinese_included(api, frozen_clock):
    api.user("auditor", "auditor")
    api.user("technician", "technician", "employee")
    case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
    step = REPAIR.steps[0]
    api.act(step.user, case, step.action, step.inputs, comment="客户来电 50%_off")
    rows = _all_rows()
    found = _search(api, q="来电")
    assert [r["id"] for r in found] == [rows[-1].id]
    assert [r["id"] for r in _search(api, q="50%_")] == [rows[-1].id]
    assert _search(api, q="60%") == []  # % is a character here, not a wildcard
    some_text = next(v for v in REPAIR.data.values() if isinstance(v, str) and len(v) > 3)
    expected = [r.id for r in rows if some_text.lower() in json.dumps(r.inputs, ensure_ascii=False).lower()
                or some_text.lower() in (r.comment or "").lower()]
    assert [r["id"] for r in _search(api, q=some_text)] == expected and expected


def test_a_search_shows_only_the_cases_the_caller_may_see(api, frozen_clock):
    _cases(api, frozen_clock, 1)
    api.user("auditor", "auditor")
    api.user("admin", "admin")  # the audit area opens to them, but they hold no role of the workflow
    assert len(_search(api)) == len(_all_rows())
    assert _search(api, user="admin") == []
    api.user("clerk_only", "service_clerk")
    assert api.get("clerk_only", "/api/v1/history").status_code == 403


@pytest.mark.parametrize("params, field", [
    ({"since": "2026-11-20T10:00+08:00", "until": "2026-11-19"}, "until"),
    ({"workflow": "no_such_workflow"}, "workflow"),
    ({"cursor": "eyJ0YW1wZXJlZCI6dHJ1ZX0.abc"}, "cursor"),
    ({"since": "yesterday"}, "since"),
])
def test_bad_searches_are_refused_with_the_field(api, frozen_clock, params, field):
    api.user("auditor", "auditor")
    _cases(api, frozen_clock, 1)
    response = api.get("auditor", "/api/v1/history", query_string=params)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_a_cursor_changed_by_one_character_is_refused(api, frozen_clock):
    api.user("auditor", "auditor")
    _cases(api, frozen_clock, 2)
    cursor = api.get("auditor", "/api/v1/history", query_string={"limit": 2}).get_json()["next_cursor"]
    changed = cursor[:3] + ("A" if cursor[3] != "A" else "B") + cursor[4:]
    response = api.get("auditor", "/api/v1/history", query_string={"limit": 2, "cursor": changed})
    assert response.status_code == 422 and "cursor" in response.get_json()["error"]["fields"]
    assert api.get("auditor", "/api/v1/history", query_string={"limit": 501}).status_code == 400
    assert api.get("auditor", "/api/v1/history", query_string={"q": "x" * 201}).status_code == 400


# ------------------------------------------------------------------------------------------- export


def _export(api, fmt: str, **params: Any) -> tuple[bytes, str]:
    body = api.get("auditor", "/api/v1/history/export", query_string={"format": fmt, **params})
    assert body.status_code == 200, body.get_json()
    manifest = api.get("auditor", "/api/v1/history/manifest", query_string=params)
    assert manifest.status_code == 200, manifest.get_json()
    return body.data, manifest.get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_verifies_and_fails_after_one_byte_is_changed(app, api, frozen_clock, runner, tmp_path, fmt):
    app.config["AUDIT_KEY"] = KEY
    api.user("auditor", "auditor")
    cases = _cases(api, frozen_clock)
    until = frozen_clock.now.isoformat()
    data, manifest = _export(api, fmt, until=until)
    path, manifest_path = tmp_path / f"export.{fmt}", tmp_path / "manifest.json"
    path.write_bytes(data)
    manifest_path.write_text(manifest, "utf-8")
    assert json.loads(manifest)["rows"] == len(_all_rows())
    result = runner.invoke(args=["audit", "verify-export", str(path), "--manifest", str(manifest_path)])
    assert result.exit_code == 0, result.output
    assert f"{len(_all_rows())} rows of {len(cases)} cases" in result.output
    # one byte: a letter of an actor's name in the middle of the file, and then the case number column
    actor = b"service_clerk"
    at = data.index(actor, len(data) // 2)
    path.write_bytes(data[:at] + b"S" + data[at + 1:])
    result = runner.invoke(args=["audit", "verify-export", str(path), "--manifest", str(manifest_path)])
    assert result.exit_code == 1 and "does not match its hash" in result.output
    number = cases[0]["number"].encode() if cases[0]["number"] else None
    if number:
        at = data.index(number)
        path.write_bytes(data[:at] + (b"X" if data[at:at + 1] != b"X" else b"Y") + data[at + 1:])
        result = runner.invoke(args=["audit", "verify-export", str(path), "--manifest", str(manifest_path)])
        assert result.exit_code == 1 and "digest" in result.output


def test_an_export_streams_in_batches_and_equals_the_search(api, frozen_clock):
    api.user("auditor", "auditor")
    _cases(api, frozen_clock)
    from workflow.engine.users import actor_of, user_by_name

    actor = actor_of(user_by_name(db.session, "auditor"))
    records = list(trail.export_records(db.session, actor, trail.Search(), batch=2))
    assert [(r["case_id"], r["seq"]) for r in records] == [(r.case_id, r.seq) for r in _all_rows()]
    verified = trail.verify_export(trail.jsonl_lines(records))
    assert verified.problems == [] and verified.rows == len(records)


def test_a_manifest_needs_the_audit_key(api, frozen_clock):
    api.user("auditor", "auditor")
    response = api.get("auditor", "/api/v1/history/manifest")
    assert response.status_code == 409 and "AUDIT_KEY" in response.get_json()["error"]["message"]


# ------------------------------------------------------------------------------------------- access log, runs


def test_every_look_of_an_auditor_is_logged_and_only_admins_read_the_log(app, api, frozen_clock):
    api.user("auditor", "auditor")
    api.user("admin", "admin")
    case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
    api.get("auditor", f"/api/v1/cases/{case['id']}")
    as_of(api, case["id"], frozen_clock.now)
    api.get("auditor", "/api/v1/history/export")
    api.get("service_clerk", f"/api/v1/cases/{case['id']}")  # not an auditor: not logged
    looks = db.session.scalars(sa.select(AuditAccess).order_by(AuditAccess.id)).all()
    assert [(a.actor, a.kind, a.case_id) for a in looks] == [
        ("auditor", "case", case["id"]), ("auditor", "replay", case["id"]), ("auditor", "export", None)]
    assert api.get("auditor", "/api/v1/audit/access-log").status_code == 403
    log = api.get("admin", "/api/v1/audit/access-log", query_string={"limit": 2}).get_json()
    assert [i["kind"] for i in log["items"]] == ["export", "replay"] and log["next_cursor"]
    rest = api.get("admin", "/api/v1/audit/access-log", query_string={"cursor": log["next_cursor"]}).get_json()
    assert [i["kind"] for i in rest["items"]] == ["case"] and rest["next_cursor"] is None


def test_the_access_log_refuses_to_be_changed(app, api, frozen_clock):
    api.user("auditor", "auditor")
    case = api.open("service_clerk", "repair_dispatch", REPAIR.data)
    api.get("auditor", f"/api/v1/cases/{case['id']}")
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_access SET actor = 'someone else'"))
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_access"))


def test_audit_verify_records_its_run_and_the_api_shows_the_last(app, api, frozen_clock, runner):
    api.user("auditor", "auditor")
    assert api.get("auditor", "/api/v1/audit/last-verification").get_json() == {"run": None}
    _cases(api, frozen_clock, 2)
    result = runner.invoke(args=["audit", "verify-and-record"])
    assert result.exit_code == 0, result.output
    run = api.get("auditor", "/api/v1/audit/last-verification").get_json()["run"]
    assert (run["cases_checked"], run["breaks"], run["first_case_id"]) == (2, 0, None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditRun)) == 1


def test_chain_status_names_the_broken_row(app, api, frozen_clock, owner_engine, clock):
    from workflow.engine.audit import chain_status

    cases = _cases(api, frozen_clock, 2)
    assert chain_status(db.session, clock, cases[1]["id"]).holds
    with owner_engine.begin() as conn:
        if owner_engine.dialect.name == "sqlite":
            conn.execute(sa.text("DROP TRIGGER history_no_update"))
        else:
            conn.execute(sa.text("ALTER TABLE history DISABLE TRIGGER history_no_update"))
        conn.execute(sa.text("UPDATE history SET comment = 'rewritten' WHERE case_id = :c AND seq = 2"),
                     {"c": cases[1]["id"]})
        if owner_engine.dialect.name != "sqlite":
            conn.execute(sa.text("ALTER TABLE history ENABLE TRIGGER history_no_update"))
    status = chain_status(db.session, clock, cases[1]["id"])
    assert not status.holds and status.first_break is not None and status.first_break.seq == 2
    assert chain_status(db.session, clock, cases[0]["id"]).holds


def test_verify_export_without_a_manifest_checks_the_rows_alone(tmp_path, runner, api, frozen_clock):
    api.user("auditor", "auditor")
    _cases(api, frozen_clock, 1)
    data = api.get("auditor", "/api/v1/history/export").data
    path = tmp_path / "e.jsonl"
    path.write_bytes(data)
    assert runner.invoke(args=["audit", "verify-export", str(path)]).exit_code == 0
    lines = data.decode().splitlines()
    path.write_text("\n".join(lines[:2] + lines[1:]) + "\n", "utf-8")  # a row given twice
    result = runner.invoke(args=["audit", "verify-export", str(path)])
    assert result.exit_code == 1 and "out of order or repeated" in result.output
    Path(path).write_text("not an export\n", "utf-8")
    result = runner.invoke(args=["audit", "verify-export", str(path)])
    assert result.exit_code == 1 and "header" in result.output


def test_the_export_command_writes_a_file_and_manifest_that_verify(app, api, frozen_clock, runner, tmp_path):
    app.config["AUDIT_KEY"] = KEY
    _cases(api, frozen_clock, 2)
    out = tmp_path / "all.csv"
    result = runner.invoke(args=["audit", "export", "--out", str(out), "--action", "create"])
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8").count("\n") == 3  # the header and the two openings
    result = runner.invoke(args=["audit", "verify-export", str(out), "--manifest", f"{out}.manifest.json"])
    assert result.exit_code == 0 and "2 rows of 2 cases" in result.output
    app.config["AUDIT_KEY"] = "another key, just as long as the first"
    result = runner.invoke(args=["audit", "verify-export", str(out), "--manifest", f"{out}.manifest.json"])
    assert result.exit_code == 1 and "signature does not hold" in result.output
