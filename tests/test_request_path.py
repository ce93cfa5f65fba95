"""What one request costs the database: the statements it sends, and how its transaction ends.

Counted with SQLAlchemy's `before_cursor_execute` on the service's engine, so what is counted is what the
database receives. A request ends on COMMIT (so psycopg keeps its prepared statements), a move answers from
the case it has just moved, and a list reads as many statements for a page of 500 as for a page of 5.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from web.extensions import db, end_transaction
from workflow.engine import Actor, advance, open_case

from .test_ui import Person

RETURN = {"customer": "Northwind", "products": "XJ-200 × 3", "quantity": 3, "reason": "noise"}
COMMIT = "-- COMMIT"  # where the service's connection committed, among the statements
ROLLBACK = "-- ROLLBACK"


@dataclass
class Seen:
    statements: list[str] = field(default_factory=list)  # with COMMIT and ROLLBACK marks where they happened
    open_at_return: list[bool] = field(default_factory=list)  # per connection handed back: a transaction open?

    @property
    def sql(self) -> list[str]:
        return [s for s in self.statements if not s.startswith("-- ")]

    def after_last_commit(self) -> list[str]:
        marks = [i for i, s in enumerate(self.statements) if s == COMMIT]
        assert marks, "the request committed nothing"
        return self.statements[marks[-1] + 1:]


def _in_transaction(dbapi_connection: Any) -> bool:
    info = getattr(dbapi_connection, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg: IDLE is 0
        return bool(info.transaction_status)
    return bool(dbapi_connection.in_transaction)  # sqlite3


@contextmanager
def watching() -> Iterator[Seen]:
    seen = Seen()
    engine = db.engine

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        seen.statements.append(" ".join(sql.split()))

    def commit(_conn: Any) -> None:
        seen.statements.append(COMMIT)

    def rollback(_conn: Any) -> None:
        seen.statements.append(ROLLBACK)

    def returned(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        seen.open_at_return.append(_in_transaction(dbapi_connection))

    listeners = [(engine, "before_cursor_execute", statement), (engine, "commit", commit),
                 (engine, "rollback", rollback), (engine.pool, "reset", returned)]
    for target, name, fn in listeners:
        sa.event.listen(target, name, fn)
    try:
        yield seen
    finally:
        for target, name, fn in listeners:
            sa.event.remove(target, name, fn)


def call(api: Any, name: str, path: str, body: Any = None) -> Any:
    """A request in a context of its own, as in a server: its own app context, session and teardown (the
    test's app context would otherwise be shared with the request)."""
    send = api.client.get if body is None else api.client.post
    kw = {} if body is None else {"json": body}
    return contextvars.Context().run(send, path, headers=api.headers(name), **kw)


def selects_from(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if s.upper().startswith("SELECT") and re.search(rf"\bFROM {table}\b", s)]


@pytest.fixture
def case(api) -> dict[str, Any]:
    opened = api.open("service_lead", "return_inspection", RETURN)
    for name in ("service_lead", "quality_director"):  # each token's first use writes its last use: not counted
        call(api, name, f"/api/v1/cases/{opened['id']}")
    return opened


def test_showing_a_case_is_a_few_statements_and_ends_on_commit(api, case):
    with watching() as seen:
        response = call(api, "service_lead", f"/api/v1/cases/{case['id']}")
    assert response.status_code == 200
    # The token with its user and roles, the case with its version row, the case's timers.
    assert len(seen.sql) <= 3, seen.sql
    assert ROLLBACK not in seen.statements and seen.statements[-1] == COMMIT
    assert seen.open_at_return == [False]  # nothing left for the pool's reset to roll back
    assert not [s for s in seen.sql if "workflow_versions.source" in s]


def test_a_move_answers_from_the_case_it_moved(api, case):
    url = f"/api/v1/cases/{case['id']}/actions/collect_opinions"
    body = {"inputs": {"application_ref": "THSQ-1", "opinions": "agreed"}, "expected_version": case["lock_version"]}
    with watching() as seen:
        response = call(api, "service_lead", url, body)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["state"] == "awaiting_approval" and answer["lock_version"] == case["lock_version"] + 1
    assert answer["data"]["opinions"] == "agreed"
    assert len(seen.sql) <= 10, seen.sql
    assert not selects_from(seen.after_last_commit(), "cases"), seen.statements
    assert not seen.after_last_commit(), "the answer read the database again after COMMIT"
    assert ROLLBACK not in seen.statements and seen.open_at_return == [False]
    assert not [s for s in seen.sql if "workflow_versions.source" in s]
    # The timers the move started and stopped, read once on the driver, are those a fresh read shows.
    assert len(selects_from(seen.sql, "timers")) == 1
    fresh = call(api, "service_lead", f"/api/v1/cases/{case['id']}").get_json()
    assert answer["timers"] == fresh["timers"]


def test_the_mover_is_not_offered_the_four_eyes_step_and_another_is(api, case):
    """The answer, made from the moved case without reading it again, is the one a fresh read gives."""
    api.user("both", "service_lead", "quality_director")
    url = f"/api/v1/cases/{case['id']}/actions/collect_opinions"
    moved = call(api, "both", url, {"inputs": {"application_ref": "THSQ-2", "opinions": "agreed"}}).get_json()
    offered = {a["name"] for a in moved["available_actions"]}
    again = {a["name"] for a in call(api, "both", f"/api/v1/cases/{case['id']}").get_json()["available_actions"]}
    assert "approve" not in offered and offered == again
    other = call(api, "quality_director", f"/api/v1/cases/{case['id']}").get_json()
    assert "approve" in {a["name"] for a in other["available_actions"]}


def test_a_refused_move_rolls_back(api, case):
    url = f"/api/v1/cases/{case['id']}/actions/approve"  # not from the state the case is in
    with watching() as seen:
        response = call(api, "quality_director", url, {"inputs": {}})
    assert response.status_code == 409
    assert COMMIT not in seen.statements and ROLLBACK in seen.statements


def test_authentication_is_one_query_and_a_revoked_token_stops_at_once(api, app, clock):
    from workflow.engine.users import revoke_token, user_by_name

    call(api, "service_lead", "/api/v1/workflows")
    with watching() as seen:
        assert call(api, "service_lead", "/api/v1/notifications").status_code == 200
    # One SELECT: the token joined with its user and their roles; nothing read apart
    token_reads = [s for s in seen.sql if s.upper().startswith("SELECT") and re.search(r"\bapi_tokens\b", s)]
    assert len(token_reads) == 1 and re.search(r"\bJOIN users\b.*\bJOIN user_roles\b", token_reads[0], re.S)
    assert not selects_from(seen.sql, "users") and not selects_from(seen.sql, "user_roles")
    assert not [s for s in seen.sql if s.upper().startswith("UPDATE")]  # used a moment ago: not written again
    revoke_token(db.session, user_by_name(db.session, "service_lead"), "default", clock.now())
    db.session.commit()
    assert call(api, "service_lead", "/api/v1/notifications").status_code == 401


@pytest.fixture
def many(api, app, clock) -> int:
    """110 returned-goods cases, 60 of them moved on by a user who may also approve them (four-eyes)."""
    api.user("both", "service_lead", "quality_director", password="both-demo-pass")
    both = Actor("both", frozenset({"service_lead", "quality_director"}))
    cases = [open_case(db.session, clock, "return_inspection", dict(RETURN), both) for _ in range(110)]
    for c in cases[:60]:
        advance(db.session, clock, c, "collect_opinions", both, {"application_ref": f"R-{c.id}", "opinions": "ok"})
    db.session.commit()
    return len(cases)


def _count(call: Any) -> tuple[int, Any]:
    call()  # the first call of a process parses the versions it has not seen yet
    with watching() as seen:
        response = call()
    assert response.status_code == 200
    assert not [s for s in seen.sql if "workflow_versions.source" in s]
    return len(seen.sql), response


@pytest.mark.parametrize("name", ["both", "quality_director", "service_lead"])
def test_the_api_list_reads_as_much_for_500_cases_as_for_5(api, many, name):
    small, page5 = _count(lambda: call(api, name, "/api/v1/cases?per_page=5"))
    large, page500 = _count(lambda: call(api, name, "/api/v1/cases?per_page=500"))
    assert len(page5.get_json()["items"]) == 5 and len(page500.get_json()["items"]) == many
    assert small == large
    if name == "both":  # the four-eyes rule holds on every row
        offered = {c["id"]: {a["name"] for a in c["available_actions"]} for c in page500.get_json()["items"]}
        assert sum("approve" in steps for steps in offered.values()) == 0
        assert sum("collect_opinions" in steps for steps in offered.values()) == many - 60


@pytest.mark.parametrize("page", ["/", "/cases"])
def test_the_ui_lists_read_as_much_for_500_cases_as_for_5(app, many, page):
    person = Person(app, "both")
    app.config["UI_PAGE_SIZE"] = 5
    small, _ = _count(lambda: person.get(page))
    app.config["UI_PAGE_SIZE"] = 500
    large, response = _count(lambda: person.get(page))
    assert small == large
    assert response.text.count('href="/cases/') >= (many - 60 if page == "/" else many)


def test_a_write_no_orm_event_reports_is_rolled_back_not_committed_at_the_end(app):
    """The engine moves cases with Core statements on the session's connection; a request that wrote so
    and did not commit (say, an error page rendered after a failed step) must end on ROLLBACK."""
    closures = sa.Table("closures", sa.MetaData(), autoload_with=db.engine)
    with app.app_context():
        db.session.connection().execute(
            sa.insert(closures).values(day=sa.func.current_date(), reason="core", created_by="t",
                                       created_at=sa.func.current_timestamp()))
        end_transaction(None)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(closures)) == 0
        db.session.scalar(sa.select(sa.literal(1)))
        end_transaction(None)  # a transaction that only read ends on COMMIT
        assert not db.session().in_transaction()
