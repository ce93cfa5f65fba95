"""scoresheet_drafts: a score-sheet template version proposed for a second process owner's approval

Revision ID: c3c0de000010
Revises: c2c0de000009
Create Date: 2026-12-01 14:20:00

With the four-eyes setting, publishing a template records a proposal (scoresheet_proposals); a second process
owner approves it (it is then published as a scoresheet_versions row) or rejects it. A proposal's status
changes, so it is a working table, not in migrations/env.py APPEND_ONLY; the versions stay append-only.
"""
import sqlalchemy as sa
from alembic import op

revision = "c3c0de000010"
down_revision = "c2c0de000009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scoresheet_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("proposed_by", sa.String(length=80), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("rejected_by", sa.String(length=80), nullable=True),
        sa.Column("rejection", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoresheet_proposals")),
        sa.CheckConstraint("status IN ('pending', 'published', 'rejected')",
                           name=op.f("ck_scoresheet_proposals_status")),
    )
    with op.batch_alter_table("scoresheet_proposals", schema=None) as batch_op:
        batch_op.create_index("ix_scoresheet_proposals_key", ["key"], unique=False)


def downgrade():
    with op.batch_alter_table("scoresheet_proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_scoresheet_proposals_key")
    op.drop_table("scoresheet_proposals")
