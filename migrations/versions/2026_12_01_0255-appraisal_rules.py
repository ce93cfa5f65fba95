"""appraisal_rules: (placeholder, filled in by H2 appraisal rules)

Revision ID: b7c0de000007
Revises: b6c0de000006
Create Date: 2026-12-01 02:55:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "b7c0de000007"
down_revision = "b6c0de000006"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
