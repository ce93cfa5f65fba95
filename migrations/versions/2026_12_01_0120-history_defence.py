"""history defence: a TRUNCATE trigger on history (the app role's grants are applied by migrations/env.py)

Revision ID: d2b8f6e30120
Revises: c1a7e5d20110
Create Date: 2026-12-01 01:20:00

The row triggers of the initial schema refuse UPDATE and DELETE, but TRUNCATE fires no row trigger:
a statement-level trigger refuses it too. The least-privileged app role is not granted TRUNCATE at
all; the trigger stops the owner's slip (a TRUNCATE ... CASCADE of cases takes history with it). The
grants themselves are not a migration: env.py re-applies them after every upgrade, so that they cover
the tables of later migrations too. SQLite has neither TRUNCATE nor roles.
"""
from alembic import op


revision = 'd2b8f6e30120'
down_revision = 'c1a7e5d20110'
branch_labels = None
depends_on = None


POSTGRES_TRUNCATE_TRIGGER = """
CREATE FUNCTION history_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'history is append-only: TRUNCATE refused on history'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
    FOR EACH STATEMENT EXECUTE FUNCTION history_no_truncate();
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_TRUNCATE_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER history_no_truncate ON history")
        op.execute("DROP FUNCTION history_no_truncate()")
