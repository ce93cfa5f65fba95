"""service_rules: (placeholder, filled in by H4 service rules - promised dates, parts closeout, service targets)

Revision ID: b3c0de000003
Revises: b2c0de000002
Create Date: 2026-12-01 02:20:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "b3c0de000003"
down_revision = "b2c0de000002"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
