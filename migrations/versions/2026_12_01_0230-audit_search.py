"""audit_search: the auditors' workspace — history search indexes, verification runs, access log

Revision ID: b4c0de000004
Revises: b3c0de000003
Create Date: 2026-12-01 02:30:00

The search over every history walks (at, id), by actor or by action when asked, and stops after a page
(keyset pagination): three indexes make page 1,000 cost what page 1 does. `audit_runs` keeps each full
verification, `audit_access` each look an auditor takes; both are append-only (row triggers refuse
UPDATE and DELETE; migrations/env.py's APPEND_ONLY grants the app role SELECT and INSERT only).
"""
import sqlalchemy as sa
from alembic import op

revision = "b4c0de000004"
down_revision = "b3c0de000003"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_history_at_id": ["at", "id"],
    "ix_history_actor_at_id": ["actor", "at", "id"],
    "ix_history_action_at_id": ["action", "at", "id"],
}
APPEND_ONLY = ("audit_runs", "audit_access")

POSTGRES_FUNCTION = """
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
"""


def _triggers(table, postgresql):
    for verb in ("UPDATE", "DELETE"):
        name = f"{table}_no_{verb.lower()}"
        if postgresql:
            yield (f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
        else:
            yield (f"CREATE TRIGGER {name} BEFORE {verb} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END")


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "history", columns, unique=False)
    op.create_table(
        "audit_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_by", sa.String(length=80), nullable=False),
        sa.Column("cases_checked", sa.Integer(), nullable=False),
        sa.Column("breaks", sa.Integer(), nullable=False),
        sa.Column("first_case_id", sa.Integer(), nullable=True),
        sa.Column("first_seq", sa.Integer(), nullable=True),
        sa.Column("first_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_runs")),
    )
    op.create_index(op.f("ix_audit_runs_finished_at"), "audit_runs", ["finished_at"], unique=False)
    op.create_table(
        "audit_access",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=1000), server_default="", nullable=False),
        sa.CheckConstraint("kind IN ('case', 'replay', 'export', 'search')", name=op.f("ck_audit_access_kind")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_audit_access_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_access")),
    )
    op.create_index("ix_audit_access_at_id", "audit_access", ["at", "id"], unique=False)
    op.create_index(op.f("ix_audit_access_actor"), "audit_access", ["actor"], unique=False)
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(POSTGRES_FUNCTION)
    for table in APPEND_ONLY:
        for statement in _triggers(table, postgresql):
            op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{verb}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION audit_append_only()")
    op.drop_table("audit_access")
    op.drop_table("audit_runs")
    for name in INDEXES:
        op.drop_index(name, table_name="history")
