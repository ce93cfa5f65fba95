"""penalties: the penalty ledger (penalty_entries) and the monthly complaint report's confirmations

Revision ID: b2c0de000002
Revises: a1c0de000001
Create Date: 2026-12-01 02:10:00

Loss shares, administrative penalties and parts-closeout breaches per person and month (003 篇1 客户投诉
行政处罚准则 / 经济处罚准则, 002 §4.5 注), and the GM office's confirmation of each month's complaint report
(003 篇1 (九)10). Both are ordinary tables: an entry is decided (approved, rejected, superseded) in place.
"""
import sqlalchemy as sa
from alembic import op

revision = "b2c0de000002"
down_revision = "a1c0de000001"
branch_labels = None
depends_on = None

KINDS = ("loss_share", "warning", "minor_demerit", "major_demerit", "closeout_breach")
STATUSES = ("proposed", "approved", "rejected", "superseded")


def _one_of(values, name, length):
    return sa.Enum(*values, name=name, length=length, native_enum=False, create_constraint=True)


def upgrade():
    op.create_table(
        "penalty_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person", sa.String(length=80), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("kind", _one_of(KINDS, "kind", 20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("share", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("loss_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", _one_of(STATUSES, "status", 12), nullable=False),
        sa.Column("final_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_penalty_entries_case_id_cases")),
        sa.ForeignKeyConstraint(["person"], ["users.name"], name=op.f("fk_penalty_entries_person_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_penalty_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_penalty_entries_reference")),
    )
    with op.batch_alter_table("penalty_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_penalty_entries_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_penalty_entries_person_period", ["person", "period"], unique=False)

    op.create_table(
        "complaint_report_confirmations",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by", sa.String(length=80), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_complaint_report_confirmations")),
    )


def downgrade():
    op.drop_table("complaint_report_confirmations")
    with op.batch_alter_table("penalty_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_penalty_entries_person_period")
        batch_op.drop_index(batch_op.f("ix_penalty_entries_case_id"))
    op.drop_table("penalty_entries")
