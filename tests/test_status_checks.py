"""Fixed-value columns: the database itself refuses a value outside the list (CHECK constraints of
migrations/versions/2026_12_01_0130-status_checks.py), and the migrated schema is the models' schema."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from web.extensions import db
from workflow.models import Base, User

from .paths import golden

# table, column, a value the service writes, a value it never does
COLUMNS = [
    ("history", "kind", "notice", "comment"),
    ("timers", "status", "stopped", "paused"),
    ("timers", "status", "running", "overdue"),  # overdue is worked out when read, never stored
    ("notifications", "kind", "late", "fired"),
    ("notifications", "email_status", "sent", "bounced"),
    ("evidence", "status", "accepted", "withdrawn"),
    ("distribution_rules", "rule", "reason", "always"),
    ("closeout_lines", "outcome", "breached", "forgiven"),
    ("audit_access", "kind", "export", "edit"),
    ("workflow_drafts", "status", "pending", "draft"),
    ("penalty_entries", "kind", "closeout_breach", "fine"),
    ("penalty_entries", "status", "superseded", "cancelled"),
    ("scoresheet_proposals", "status", "rejected", "withdrawn"),
]

# The slices' tables: a row of each is written fresh with the value under test (some have no `id` to copy by).
def _fresh_rows(case_id: int, now: object, closeout_list: int | None) -> dict[str, dict[str, object]]:
    return {
        "distribution_rules": {"department": "售后服务部", "rule": "show", "set_by": "x", "set_at": now},
        "closeout_lines": {"list_id": closeout_list, "case_id": case_id, "part": "x", "owed_since": now,
                           "outcome": "owed"},
        "audit_access": {"at": now, "actor": "auditor", "kind": "case", "case_id": case_id, "detail": ""},
        "workflow_drafts": {"workflow_key": "x", "author": "x", "source": "x", "status": "open", "created_at": now,
                            "updated_at": now},
        "scoresheet_proposals": {"key": "field_service", "source": "x", "sha256": "0" * 64, "reason": "x",
                                 "status": "pending", "proposed_by": "x", "proposed_at": now},
        "penalty_entries": {"person": "service_clerk", "period": "2026-11", "kind": "loss_share", "amount": 100,
                            "reason": "x", "status": "proposed", "recorded_by": "x", "recorded_at": now},
    }


@pytest.fixture
def rows(api, clock) -> dict[str, int]:
    """One row of each table of COLUMNS, made as the service makes them: table -> id."""
    path = golden("repair_dispatch")["workshop_repair_sent_back_once_then_rated_well"]
    case = api.open("service_clerk", "repair_dispatch", path.data)  # its arrival clock starts at once
    user = db.session.scalar(sa.select(User.id).where(User.name == "service_clerk"))
    tables = Base.metadata.tables
    now = clock.now()
    with db.engine.begin() as conn:
        conn.execute(sa.insert(tables["notifications"]).values(
            user_id=user, case_id=case["id"], kind="overdue", message={"en": "x", "zh": "x"}, created_at=now,
            email_status="pending"))
        conn.execute(sa.insert(tables["evidence"]).values(
            person="technician", period="2026-11", source_case_id=case["id"], source_action="record_callback",
            reason={"en": "x", "zh": "x"}, created_at=now, status="proposed"))
        closeout_list = conn.execute(sa.insert(tables["closeout_lists"]).values(
            workflow_key="replacement_part", drawn_at=now, drawn_by="x").returning(tables["closeout_lists"].c.id))
        FRESH.update(_fresh_rows(case["id"], now, closeout_list.scalar_one()))
    with db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT min(id) FROM {t}")).scalar_one()
                for t in ("history", "timers", "notifications", "evidence")}


FRESH: dict[str, dict[str, object]] = {}


def copy_with(conn: sa.Connection, table: str, row_id: int | None, column: str, value: str) -> None:
    """Insert a copy of row `row_id` of `table` with `column` set to `value` (and a free seq in history); a
    slice's table gets a fresh row instead."""
    if table in FRESH:
        conn.execute(sa.insert(Base.metadata.tables[table]).values({**FRESH[table], column: value}))
        return
    columns = [c.name for c in Base.metadata.tables[table].columns if c.name != "id"]
    chosen = {column: ":value", "seq": "seq + 100"} if table == "history" else {column: ":value"}
    selected = ", ".join(chosen.get(c, c) for c in columns)
    conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {selected} FROM {table} "
                         f"WHERE id = :id"), {"value": value, "id": row_id})


@pytest.mark.parametrize("table, column, good, bad", COLUMNS)
def test_the_database_refuses_a_value_outside_the_list(rows, table, column, good, bad):
    with db.engine.connect() as conn:
        with conn.begin() as transaction:  # the same statement with a listed value goes in
            copy_with(conn, table, rows.get(table), column, good)
            transaction.rollback()
        with pytest.raises(IntegrityError, match=f"ck_{table}_{column}|CHECK constraint failed"):
            with conn.begin():
                copy_with(conn, table, rows.get(table), column, bad)
        counted = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {column} = :bad"), {"bad": bad})
        assert counted.scalar_one() == 0


def test_the_migrated_schema_is_the_models_schema(app):
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        inspector = sa.inspect(conn)
        for table in Base.metadata.sorted_tables:  # autogenerate does not compare CHECK constraints
            declared = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
            assert {c["name"] for c in inspector.get_check_constraints(table.name)} == declared, table.name


def test_every_fixed_value_column_is_checked_for_its_values(app):
    """A string column of the models that holds one of a list is declared with its list (workflow.models.one_of),
    and the migrated database checks exactly that list."""
    checked = {(t.name, c.name): set(c.type.enums) for t in Base.metadata.sorted_tables for c in t.columns
               if isinstance(c.type, sa.Enum)}
    assert set(checked) == {(table, column) for table, column, _, _ in COLUMNS}
    inspector = sa.inspect(db.engine)
    for (table, column), values in checked.items():
        [check] = [c for c in inspector.get_check_constraints(table) if c["name"] == f"ck_{table}_{column}"]
        assert set(re.findall(r"'([^']*)'", check["sqltext"])) == values, check
