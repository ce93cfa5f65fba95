"""appraisal_rules: the forced-distribution rule HR sets per department, and department heads with their
standard performance pay (001 §2.3, §5.1)

Revision ID: b7c0de000007
Revises: b6c0de000006
Create Date: 2026-12-01 02:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = "b7c0de000007"
down_revision = "b6c0de000006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "distribution_rules",
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("rule", sa.String(length=10), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("department", name=op.f("pk_distribution_rules")),
        # As workflow/models.py's `one_of` declares it: a CHECK, never a native enum type.
        sa.CheckConstraint("rule IN ('show', 'reason', 'block')", name=op.f("ck_distribution_rules_rule")),
    )
    op.create_table(
        "department_heads",
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("head", sa.String(length=80), nullable=False),
        sa.Column("standard_pay", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("set_by", sa.String(length=80), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["head"], ["users.name"], name=op.f("fk_department_heads_head_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("department", name=op.f("pk_department_heads")),
    )


def downgrade():
    op.drop_table("department_heads")
    op.drop_table("distribution_rules")
