"""desk: a case's assignee (the person working it) and each user's saved list filters

Revision ID: b6c0de000006
Revises: b5c0de000005
Create Date: 2026-12-01 02:50:00

`cases.assignee` names the person a case is assigned to (NULL: the role's queue); every change of it is
also a history row of kind `assignment`, so the chain says who assigned whom and when. Notes and
attachments need no table: they are history rows (kind `note`), an attachment's content hash in the row.
`saved_filters` keeps a user's named list filters (the query string of a list page).
"""
import sqlalchemy as sa
from alembic import op

revision = "b6c0de000006"
down_revision = "b5c0de000005"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cases", sa.Column("assignee", sa.String(length=80), nullable=True))
    op.create_index(op.f("ix_cases_assignee"), "cases", ["assignee"], unique=False)
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_saved_filters_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_filters")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_saved_filters_user_id_name")),
    )


def downgrade():
    op.drop_table("saved_filters")
    op.drop_index(op.f("ix_cases_assignee"), table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("assignee")
