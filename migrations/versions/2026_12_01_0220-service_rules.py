"""service_rules: the parts closeout lists (closeout_lists, closeout_lines)

Revision ID: b3c0de000003
Revises: b2c0de000002
Create Date: 2026-12-01 02:20:00

Every 15 days the service lead lists the parts still owed, the quality director approves the list and
instructs production with a grace of at most 3 days, and a part still missing after it is a breach on the
penalty ledger (002 §4.5, 注; workflow/closeout/). Ordinary tables: a list is approved and settled in place.
The promised-date clocks and the service targets need no table: they are definition data and history.
"""
import sqlalchemy as sa
from alembic import op

revision = "b3c0de000003"
down_revision = "b2c0de000002"
branch_labels = None
depends_on = None

OUTCOMES = ("owed", "arrived", "breached")
APPROVAL = (
    "(approved_at IS NULL AND approved_by IS NULL AND instructed IS NULL AND grace_until IS NULL)"
    " OR (approved_at IS NOT NULL AND approved_by IS NOT NULL AND instructed IS NOT NULL"
    " AND grace_until IS NOT NULL)"
)


def upgrade():
    op.create_table(
        "closeout_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_key", sa.String(length=80), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by", sa.String(length=80), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("instructed", sa.String(length=80), nullable=True),
        sa.Column("grace_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(APPROVAL, name=op.f("ck_closeout_lists_approval")),
        sa.CheckConstraint("settled_at IS NULL OR approved_at IS NOT NULL",
                           name=op.f("ck_closeout_lists_settled_after_approval")),
        sa.ForeignKeyConstraint(["instructed"], ["users.name"], name=op.f("fk_closeout_lists_instructed_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closeout_lists")),
    )
    with op.batch_alter_table("closeout_lists", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closeout_lists_drawn_at"), ["drawn_at"], unique=False)

    op.create_table(
        "closeout_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.Column("owed_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.Enum(*OUTCOMES, name="outcome", length=10, native_enum=False,
                                     create_constraint=True), nullable=False),
        sa.Column("penalty_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["list_id"], ["closeout_lists.id"], ondelete="CASCADE",
                                name=op.f("fk_closeout_lines_list_id_closeout_lists")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_closeout_lines_case_id_cases")),
        sa.ForeignKeyConstraint(["penalty_id"], ["penalty_entries.id"],
                                name=op.f("fk_closeout_lines_penalty_id_penalty_entries")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closeout_lines")),
        sa.UniqueConstraint("list_id", "case_id", name=op.f("uq_closeout_lines_list_id_case_id")),
    )
    with op.batch_alter_table("closeout_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closeout_lines_list_id"), ["list_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_closeout_lines_case_id"), ["case_id"], unique=False)


def downgrade():
    with op.batch_alter_table("closeout_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closeout_lines_case_id"))
        batch_op.drop_index(batch_op.f("ix_closeout_lines_list_id"))
    op.drop_table("closeout_lines")
    with op.batch_alter_table("closeout_lists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closeout_lists_drawn_at"))
    op.drop_table("closeout_lists")
