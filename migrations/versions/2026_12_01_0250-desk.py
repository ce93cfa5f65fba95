"""desk: (placeholder, filled in by H7 staff desk - assignees, notes, attachments)

Revision ID: b6c0de000006
Revises: b5c0de000005
Create Date: 2026-12-01 02:50:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "b6c0de000006"
down_revision = "b5c0de000005"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
