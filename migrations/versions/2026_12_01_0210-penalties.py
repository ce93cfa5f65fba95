"""penalties: (placeholder, filled in by H3 complaint rules - penalty ledger, complaint report)

Revision ID: b2c0de000002
Revises: a1c0de000001
Create Date: 2026-12-01 02:10:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "b2c0de000002"
down_revision = "a1c0de000001"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
