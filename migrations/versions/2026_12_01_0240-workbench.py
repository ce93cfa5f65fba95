"""workbench: (placeholder, filled in by H6 process owners - drafts, migrations of running cases)

Revision ID: b5c0de000005
Revises: b4c0de000004
Create Date: 2026-12-01 02:40:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "b5c0de000005"
down_revision = "b4c0de000004"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
