"""policy: reserved for the access policy's schema changes

Revision ID: e3c9a7f40130
Revises: d2b8f6e30120
Create Date: 2026-12-01 01:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'e3c9a7f40130'
down_revision = 'd2b8f6e30120'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
