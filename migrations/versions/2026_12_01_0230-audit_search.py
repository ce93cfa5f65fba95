"""audit_search: (placeholder, filled in by H5 auditors - history search indexes, access log)

Revision ID: b4c0de000004
Revises: b3c0de000003
Create Date: 2026-12-01 02:30:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "b4c0de000004"
down_revision = "b3c0de000003"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
