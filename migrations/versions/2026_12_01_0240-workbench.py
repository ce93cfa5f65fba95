"""workbench: drafts of workflow definitions, and the reason a version was published

Revision ID: b5c0de000005
Revises: b4c0de000004
Create Date: 2026-12-01 02:40:00

Process owners edit a workflow as a draft (workflow_drafts, one row per draft, shared by the workflow's
process owners) and publish it with a reason, kept on the version it makes (workflow_versions.reason). The
versions table stays append-only: a pending four-eyes publication waits on its draft, never on a version row.
"""
import sqlalchemy as sa
from alembic import op

revision = "b5c0de000005"
down_revision = "b4c0de000004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "workflow_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_key", sa.String(length=80), nullable=False),
        sa.Column("author", sa.String(length=80), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(length=80), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_drafts")),
        sa.CheckConstraint("status IN ('open', 'pending', 'published')", name=op.f("ck_workflow_drafts_status")),
    )
    with op.batch_alter_table("workflow_drafts", schema=None) as batch_op:
        batch_op.create_index("ix_workflow_drafts_workflow_key", ["workflow_key"], unique=False)
    with op.batch_alter_table("workflow_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("workflow_versions", schema=None) as batch_op:
        batch_op.drop_column("reason")
    with op.batch_alter_table("workflow_drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_workflow_drafts_workflow_key")
    op.drop_table("workflow_drafts")
