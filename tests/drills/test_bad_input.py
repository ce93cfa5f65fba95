"""Drill 3, bad input: schemathesis against the live server's own /api/v1/openapi.json, with a valid
token, for DRILL_EXAMPLES examples per operation and as many linked (stateful) scenarios, on PostgreSQL and
on SQLite.

It must find no 5xx and no response that breaks the document: undocumented status codes, content
types or headers, and bodies that do not match their schema. (Whether the service rejects every
request the document calls invalid, or accepts every one it calls valid, is not asked: a schema-valid
action on a case in the wrong state is rightly a 409.)

Inputs that once crashed the service, or were stored when they should have been refused, are replayed
one by one in `test_a_former_crash_is_answered_without_a_server_error`: each must be a 4xx with the
error body (web/limits.py and the engine's limits, issue 9).
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
import sqlalchemy as sa
from flask_migrate import upgrade
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from sqlalchemy.orm import Session

from web import contract, create_app
from web.extensions import db
from workflow.definitions import load_text, shipped_files
from workflow.engine import advance, open_case
from workflow.engine.worker import fire_due_timers

from .harness import DEFINITION_FILE, DRILLER, Answer, Database, Server, call, migrated_schema, setting

pytestmark = pytest.mark.drill
EXAMPLES = setting("DRILL_EXAMPLES", 100, 10)
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "ignored_auth",
          "ensure_resource_availability"]
INT32, INT64 = 2**31 - 1, 2**63 - 1


@dataclass
class LiveApi:
    server: Server
    token: str
    db: Database


@contextmanager
def migrated_sqlite(folder: Path) -> Iterator[Database]:
    """A fresh SQLite file built by the Alembic migrations: the database of `scripts/serve-demo.sh`."""
    url = f"sqlite:///{folder / 'drill.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    engine = sa.create_engine(url)
    try:
        yield Database(url, "main", engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def live_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """gunicorn on a schema with every shipped workflow, the drill workflow, cases in each drill state,
    timers fired (so there are notices and notifications), and one user holding every role; on PostgreSQL
    and on SQLite (whose errors and limits differ: the fuzzing has found bugs on one only)."""
    folder = tmp_path_factory.mktemp(f"bad_input_{request.param}")
    made = migrated_schema() if request.param == "postgresql" else migrated_sqlite(folder)
    with made as database:
        app = create_app({"SQLALCHEMY_DATABASE_URI": database.url})
        runner = app.test_cli_runner()

        def cli(*args: str) -> str:
            result = runner.invoke(args=list(args))
            assert result.exit_code == 0, (args, result.output, result.exception)
            return str(result.output)

        cli("workflow", "load", "--by", "drill")
        cli("workflow", "load", "--by", "drill", str(DEFINITION_FILE))
        roles = sorted({role for f in [*shipped_files(), DEFINITION_FILE]
                        for role in load_text(f.read_text("utf-8"), str(f), f.stem).roles})
        cli("users", "create", "fuzz", *[arg for role in roles for arg in ("--role", role)])
        token = cli("users", "token", "fuzz").strip()
        clock = app.extensions["workflow_clock"]
        with app.app_context():
            for route in [(), ("send",), ("park",), ("send", "poke"), ("send", "recall")]:
                case = open_case(db.session, clock, "drill", {"note": "fuzz"}, DRILLER)
                for action in route:
                    advance(db.session, clock, case, action, DRILLER, comment=f"to {action}")
            db.session.commit()
            fire_due_timers(lambda: Session(db.engine), clock, now=clock.now() + timedelta(hours=2))
            db.session.remove()
            db.engine.dispose()
        server = Server(database, folder / "gunicorn.log")
        server.start()
        try:
            yield LiveApi(server, token, database)
        finally:
            server.stop()


# The document as the contract (web/contract.py) writes it, so that pytest can make one test per operation
# when it collects; the first test checks that the live server serves exactly this document.
DOCUMENT = contract.document(create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}))
# A copy as JSON gives it, taken before schemathesis works on DOCUMENT (its fuzzing leaves marks in the dict).
SERVED = json.loads(json.dumps(DOCUMENT))
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"mode": "all", "max-examples": EXAMPLES, "database": "none"},
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def test_the_live_server_serves_this_document(live_api: LiveApi) -> None:
    served = schemathesis.openapi.from_url(f"{live_api.server.base}/api/v1/openapi.json", config=CONFIG)
    assert served.raw_schema == SERVED
    assert call(live_api.server.port, "GET", "/api/v1/openapi.json").status == 200  # public: no token


def _call_kwargs(live_api: LiveApi) -> dict[str, Any]:
    return {"base_url": f"{live_api.server.base}/api/v1", "headers": {"Authorization": f"Bearer {live_api.token}"}}


def refused_by_gunicorn(response: Any) -> bool:
    """gunicorn itself answers a request line over 4094 bytes (414), too large or malformed headers
    (431, 400) with a small HTML page: the service never saw the request, so its document is not asked."""
    content_type = (response.headers.get("content-type") or [""])[0]
    return response.status_code in (400, 414, 431) and content_type.startswith("text/html")


def exchange(case: Any, live_api: LiveApi) -> Any:
    """Send `case` and validate the answer with the drill's checks (as `call_and_validate` does)."""
    kwargs = _call_kwargs(live_api)
    response = case.call(**kwargs)
    if not refused_by_gunicorn(response):
        case.validate_response(response, headers=kwargs["headers"], transport_kwargs=kwargs)
    return response


def _ints(values: Any) -> list[int]:
    found = []
    for value in (values or {}).values():
        for item in value if isinstance(value, list) else [value]:
            try:
                found.append(int(item))
            except (TypeError, ValueError):
                pass
    return found


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


APPRAISAL_WRITES = ("/appraisal/", "/cases/{case_id}/evidence/")


def _is_nan(value: Any) -> bool:
    try:
        return Decimal(str(value)).is_nan()
    except InvalidOperation:
        return False


OPERATIONS = {op.label: op for op in (result.ok() for result in schema.get_all_operations())}
FUZZ = hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                           suppress_health_check=list(hypothesis.HealthCheck))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_operation_answers_as_the_document_says(label: str, mode: GenerationMode, live_api: LiveApi) -> None:
    """Requests that fit the document (positive) and requests that break it (negative), for each operation."""

    @FUZZ
    @hypothesis.given(case=OPERATIONS[label].as_strategy(mode))
    def fuzz(case: Any) -> None:
        exchange(case, live_api)

    fuzz()


def test_every_stored_object_is_served_as_the_document_says(live_api: LiveApi) -> None:
    """Generated ids rarely exist: here every workflow, case and notification is read, and an action
    taken on every case (then retried stale), through the document's operations."""

    def check(label: str, status: int, **parts: Any) -> Any:
        response = exchange(OPERATIONS[label].Case(**parts), live_api)
        assert response.status_code == status, (label, parts, response.status_code, response.content[:300])
        return json.loads(response.content) if status != 200 or "diagram" not in label else None

    month = datetime.now(UTC).strftime("%Y-%m")
    for w in check("GET /workflows", 200)["items"]:
        check("GET /workflows/{key}", 200, path_parameters={"key": w["key"]}, query={"version": w["version"]})
        check("GET /workflows/{key}/diagram.svg", 200, path_parameters={"key": w["key"]}, query={"lang": "zh"})
        check("GET /sla", 200, query={"workflow": w["key"], "month": month})
    opened = check("POST /cases", 201, body={"workflow": "drill", "data": {"note": "swept"}, "comment": "sweep"})
    check("POST /cases", 422, body={"workflow": "drill", "data": {"note": "x" * 201}})
    check("POST /cases", 404, body={"workflow": "no_such_workflow"})
    cases = check("GET /cases", 200, query={"per_page": 500, "workflow": "drill"})["items"]
    assert opened["id"] in {c["id"] for c in cases}
    for c in cases:
        ids = {"case_id": c["id"]}
        check("GET /cases/{case_id}", 200, path_parameters=ids)
        check("GET /cases/{case_id}/history", 200, path_parameters=ids)
        check("GET /cases/{case_id}/diagram.svg", 200, path_parameters=ids)
        action = {**ids, "action": c["available_actions"][0]["name"]}
        body = {"inputs": {}, "comment": "sweep", "expected_version": c["lock_version"]}
        check("POST /cases/{case_id}/actions/{action}", 200, path_parameters=action, body=body)
        check("POST /cases/{case_id}/actions/{action}", 409, path_parameters=action, body=body)
    # read or not: the fuzzing before this test may have marked some read with ids it guessed
    notices = check("GET /notifications", 200, query={"limit": 200})["items"]
    assert notices, "the timers fired in the fixture notified the fuzz user"
    for n in notices[:3]:
        check("POST /notifications/{notification_id}/read", 200, path_parameters={"notification_id": n["id"]})


def test_linked_calls_answer_as_the_document_says(live_api: LiveApi) -> None:
    """Stateful: schemathesis follows the links it infers (open a case, then read, act on, draw it)."""

    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return _call_kwargs(live_api)

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kw: Any) -> None:
            if refused_by_gunicorn(response):
                return
            super().validate_response(response, case, additional_checks, **kw)

    Scenario.run(settings=hypothesis.settings(FUZZ, stateful_step_count=6))


# Inputs that once made the service answer 500; each must now be refused cleanly.
FORMER_CRASHES = [
    # (id, method, path, JSON body, what went wrong)
    ("nul_in_text", "GET", "/workflows/%00", None,
     "a NUL character in a key, state, comment or workflow name reaches PostgreSQL text: DataError, 500"),
    ("nul_in_text", "GET", "/cases?workflow=%00", None, ""),
    ("nul_in_text", "GET", "/cases?state=%00", None, ""),
    ("nul_in_text", "GET", "/sla?workflow=%00&month=2026-11", None, ""),
    ("nul_in_text", "POST", "/cases", {"workflow": "\x00"}, ""),
    ("nul_in_text", "POST", "/cases", {"workflow": "drill", "data": {}, "comment": "a\x00b"}, ""),
    ("version_out_of_range", "GET", "/workflows/drill?version=2147483648", None,
     "?version= beyond the 32-bit column: NumericValueOutOfRange, 500"),
    ("version_out_of_range", "GET", "/workflows/drill/diagram.svg?version=-2147483649", None, ""),
    ("notification_id_out_of_range", "POST", "/notifications/2147483648/read", None,
     "a notification id beyond the 32-bit column: NumericValueOutOfRange, 500"),
    ("page_out_of_range", "GET", "/cases?page=100000000000000000&per_page=500", None,
     "an OFFSET beyond 64 bits: NumericValueOutOfRange, 500; now a 400, never clamped"),
    ("page_out_of_range", "GET", "/cases?page=0", None, ""),
    ("page_out_of_range", "GET", "/cases?per_page=100000", None, ""),
    ("page_out_of_range", "GET", "/notifications?limit=-1", None, ""),
    ("page_out_of_range", "GET", "/workflows/drill?version=abc", None, ""),
    # web/appraisal/api.py reads `request.get_json(silent=True) or {}` and calls .get on whatever came
    ("appraisal_non_object_body", "PUT", "/appraisal/departments/x/months/2026-11/coefficient", -408,
     "a JSON body that is not an object: AttributeError, 500"),
    ("appraisal_non_object_body", "POST", "/appraisal/months", [1], ""),
    ("appraisal_non_object_body", "POST", "/cases/1/evidence/1", [1], ""),
    ("appraisal_nan_coefficient", "PUT", "/appraisal/departments/x/months/2026-11/coefficient",
     {"coefficient": "NaN"}, "Decimal('NaN') compared in set_coefficient: InvalidOperation, 500"),
    ("nul_in_text", "GET", "/appraisal/departments/a%00/months/2026-11", None, ""),
    ("evidence_id_out_of_range", "POST", "/cases/1/evidence/2147483648", {"decision": "accept"},
     "an evidence id beyond the 32-bit column, on an existing case: NumericValueOutOfRange, 500"),
    # Issue 9: no limit on inputs.
    ("comment_not_text", "POST", "/cases", {"workflow": "drill", "data": {"note": "n"}, "comment": 5},
     "a number as a comment was stored, and `audit verify` then called the chain broken"),
    ("comment_not_text", "POST", "/cases", {"workflow": "drill", "data": {"note": "n"}, "comment": 1.5}, ""),
    ("comment_not_text", "POST", "/cases", {"workflow": "drill", "data": {"note": "n"}, "comment": True}, ""),
    ("comment_not_text", "POST", "/cases", {"workflow": "drill", "data": {"note": "n"}, "comment": [1]}, ""),
    ("comment_not_text", "POST", "/cases", {"workflow": "drill", "data": {"note": "n"}, "comment": {"a": 1}},
     "an object as a comment: 500"),
    ("comment_not_text", "POST", "/cases/1/actions/send", {"comment": {"a": 1}}, ""),
    ("comment_too_long", "POST", "/cases", {"workflow": "drill", "data": {"note": "n"}, "comment": "x" * 4001},
     "no bound on a comment: 100 MB landed in the append-only history"),
    ("body_too_large", "POST", "/cases",
     b'{"workflow": "drill", "data": {"note": "n"}, "comment": "' + b"x" * (1 << 20) + b'"}',
     "no bound on a request body; now MAX_CONTENT_LENGTH, a 413"),
    ("json_too_deep", "POST", "/cases", b'{"workflow": "drill", "data": ' + b"[" * 1000 + b"]" * 1000 + b"}",
     "JSON nested 1000 deep: RecursionError, 500"),
    ("json_too_deep", "POST", "/cases", b"[" * 100_000 + b"]" * 100_000, ""),
    ("json_too_deep", "POST", "/cases", {"workflow": "drill", "data": {"note": json.loads("[" * 21 + "]" * 21)}},
     "one level beyond MAX_JSON_DEPTH (20)"),
    ("lone_surrogate", "POST", "/cases", {"workflow": "drill", "data": {"note": "\ud800"}},
     "a lone surrogate cannot be written as UTF-8: UnicodeEncodeError in the history's hash, 500"),
    ("lone_surrogate", "POST", "/cases", {"workflow": "drill", "data": {"\udc00": "n"}}, ""),
    ("lone_surrogate", "POST", "/cases/1/actions/send", {"comment": "\ud800"}, ""),
    ("month_out_of_range", "GET", "/sla?workflow=drill&month=0000-01", None,
     "year 0 reached datetime(): ValueError, 500"),
    ("month_out_of_range", "GET", "/sla?workflow=drill&month=9999-12", None, "the month after is in year 10000"),
    ("month_out_of_range", "POST", "/appraisal/months", {"department": "d", "period": "9999-12"},
     "opened, and every step of the sheet then failed on a deadline in year 10000"),
    ("month_out_of_range", "GET", "/appraisal/departments/d/months/0000-01", None, ""),
    ("month_out_of_range", "POST", "/cases", {"workflow": "appraisal", "data": {
        "employee": "fuzz", "supervisor": "s", "department": "d", "period": "9999-12", "template": "repair"}}, ""),
    ("department_too_long", "POST", "/appraisal/months", {"department": "x" * 1000, "period": "2026-11"},
     "a department beyond its VARCHAR(100): StringDataRightTruncation, 500"),
    ("department_too_long", "PUT", "/appraisal/departments/" + "x" * 1000 + "/months/2026-11/coefficient",
     {"coefficient": 1}, ""),
    ("coefficient_beyond_the_column", "PUT", "/appraisal/departments/d/months/2026-11/coefficient",
     {"coefficient": "0.0001"}, "rounded to a coefficient of 0 by the NUMERIC(6, 3) column"),
    ("evidence_item_not_text", "POST", "/cases/1/evidence/1", {"decision": "accept", "item": {}},
     "an object as the sheet item: TypeError (unhashable), 500"),
    ("value_out_of_range", "POST", "/cases", {"workflow": "replacement_part", "data": {
        "customer": "c", "product": "p", "part": "q", "quantity": 1, "reason": "r", "request_date": "0001-01-01"}},
     "a date in year 1 was stored; guards adding days to it overflowed"),
    ("value_out_of_range", "POST", "/cases", {"workflow": "replacement_part", "data": {
        "customer": "c", "product": "p", "part": "q", "quantity": 2**64, "reason": "r", "request_date": "2026-11-20"}},
     "an integer beyond 64 bits"),
    ("value_out_of_range", "POST", "/cases", {"workflow": "complaint", "data": {"market": ["domestic"]}},
     "a list as an enum's value: TypeError (unhashable), 500"),
]


def _shown(body: Any) -> str:
    text = body.decode() if isinstance(body, bytes) else json.dumps(body) if body else ""
    return text if len(text) <= 80 else f"{text[:60]}…({len(text)} characters)"


def call_raw(port: int, method: str, path: str, token: str, body: bytes) -> Answer:
    """A JSON body sent as these bytes (json.dumps itself gives up on the deepest ones). The service may
    answer a body over MAX_CONTENT_LENGTH from its Content-Length alone and close the connection: sending
    stops as soon as the answer arrives, as a browser's does, instead of failing on a broken pipe."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        rest = memoryview(body)
        try:
            while rest and not select.select([sock], [], [], 0)[0]:
                rest = rest[sock.send(rest[:65536]):]
            while chunk := sock.recv(65536):
                received += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
    status_line, _, rest_of_answer = bytes(received).partition(b"\r\n")
    _, _, payload = rest_of_answer.partition(b"\r\n\r\n")
    status = int(status_line.split()[1]) if status_line else None
    return Answer(status, json.loads(payload) if payload else None)


@pytest.mark.parametrize(("bug", "method", "path", "body"), [
    pytest.param(bug, method, path, body, id=f"{bug}:{method} {path[:80]} {_shown(body)}".strip())
    for bug, method, path, body, _why in FORMER_CRASHES
])
def test_a_former_crash_is_answered_without_a_server_error(
    live_api: LiveApi, bug: str, method: str, path: str, body: Any
) -> None:
    send = call_raw if isinstance(body, bytes) else call
    answer = send(live_api.server.port, method, f"/api/v1{path}", live_api.token, body)
    assert answer.status is not None and 400 <= answer.status < 500, (answer.status, answer.body)
    assert set(answer.body) == {"error"}, (answer.status, answer.body)
