"""scoresheet_versions: score-sheet templates published and versioned like definitions

Revision ID: c1c0de000008
Revises: b7c0de000007
Create Date: 2026-12-01 14:00:00

A template version is never changed: a scored sheet names the version it was scored with, so changing one
would change the scores of the months already closed. The app role is granted SELECT and INSERT only
(migrations/env.py APPEND_ONLY); row triggers refuse UPDATE and DELETE whoever asks, as on history.
"""
import sqlalchemy as sa
from alembic import op

revision = "c1c0de000008"
down_revision = "b7c0de000007"
branch_labels = None
depends_on = None

POSTGRES_TRIGGER = """
CREATE FUNCTION scoresheet_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'scoresheet_versions is append-only: % refused on row %', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER scoresheet_versions_no_update BEFORE UPDATE ON scoresheet_versions
    FOR EACH ROW EXECUTE FUNCTION scoresheet_versions_append_only();
CREATE TRIGGER scoresheet_versions_no_delete BEFORE DELETE ON scoresheet_versions
    FOR EACH ROW EXECUTE FUNCTION scoresheet_versions_append_only();
"""


def upgrade():
    op.create_table(
        "scoresheet_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("published_by", sa.String(length=80), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoresheet_versions")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_scoresheet_versions_key_version")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_TRIGGER)
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER scoresheet_versions_no_{verb.lower()} BEFORE {verb} ON scoresheet_versions "
                f"BEGIN SELECT RAISE(ABORT, 'scoresheet_versions is append-only: {verb} refused'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER scoresheet_versions_no_update ON scoresheet_versions")
        op.execute("DROP TRIGGER scoresheet_versions_no_delete ON scoresheet_versions")
        op.execute("DROP FUNCTION scoresheet_versions_append_only()")
    else:
        op.execute("DROP TRIGGER scoresheet_versions_no_update")
        op.execute("DROP TRIGGER scoresheet_versions_no_delete")
    op.drop_table("scoresheet_versions")
