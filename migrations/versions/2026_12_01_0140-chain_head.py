"""chain head: each case row carries its history chain's last seq, hash and last mover

Revision ID: f4b2d6e80140
Revises: e3a1c5d70130
Create Date: 2026-12-01 01:40:00

A move needed two reads of history before writing (the last row for the next seq and prev_hash, the
last transition row for the four-eyes rule). The case row now carries them, kept by the same
compare-and-set that moves the case (workflow/engine/history.py, cases.py). Existing cases are
backfilled from their history; `audit verify` checks that the two agree.

The columns are added to an existing table, which the app role's grants (migrations/env.py,
re-applied after every upgrade) already cover. On SQLite batch mode adds them with ALTER TABLE (no
copy of the table: adding a column with a constant default needs none).
"""
import sqlalchemy as sa
from alembic import op

revision = "f4b2d6e80140"
down_revision = "e3a1c5d70130"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

BACKFILL = """
UPDATE cases SET
    last_seq = coalesce((SELECT max(h.seq) FROM history h WHERE h.case_id = cases.id), 0),
    last_hash = coalesce((SELECT h.hash FROM history h WHERE h.case_id = cases.id
                          ORDER BY h.seq DESC LIMIT 1), :genesis),
    last_mover = (SELECT h.actor FROM history h WHERE h.case_id = cases.id AND h.kind = 'transition'
                  ORDER BY h.seq DESC LIMIT 1)
"""


def upgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seq", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_hash", sa.String(length=64), server_default=GENESIS, nullable=False))
        batch_op.add_column(sa.Column("last_mover", sa.String(length=80), nullable=True))
    op.get_bind().execute(sa.text(BACKFILL), {"genesis": GENESIS})


def downgrade():
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("last_mover")
        batch_op.drop_column("last_hash")
        batch_op.drop_column("last_seq")
