"""sessions and tokens: server-side sign-in sessions, named expiring API tokens, disabled users

Revision ID: c1a7e5d20110
Revises: 794bc6ebd6b4
Create Date: 2026-12-01 01:10:00

Each user's one token (users.token_hash, a SHA-256 digest) becomes a row of api_tokens named
"default", valid for 90 days from the upgrade; the column goes. Downgrading puts each user's newest
live token back into users.token_hash and drops the sessions (everybody signs in again).
"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


revision = 'c1a7e5d20110'
down_revision = '794bc6ebd6b4'
branch_labels = None
depends_on = None

MIGRATED_TOKEN_DAYS = 90


def _moment(value):
    """A bind parameter for a UTC moment, stored the way workflow.models.UTCDateTime stores it."""
    if op.get_bind().dialect.name == "sqlite":
        value = value.replace(tzinfo=None)
    return value


def _without_sqlite_foreign_keys(work):
    """Run `work`, which rebuilds `users` on SQLite, with SQLite's foreign keys off.

    SQLite cannot drop a UNIQUE column in place, so batch mode copies `users` to a new table and drops
    the old one; with foreign keys on, that DROP deletes every row first and the ON DELETE CASCADEs
    empty user_roles, staff, notifications and api_tokens. PRAGMA foreign_keys only takes effect
    outside a transaction, hence the commits; the check afterwards proves that every reference holds.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        work()
        return
    dbapi = bind.connection.dbapi_connection
    dbapi.commit()
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        work()
        dbapi.commit()
    except BaseException:
        dbapi.rollback()
        raise
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
    broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"foreign keys broken by the rebuild of users: {broken[:5]}")


def upgrade():
    _without_sqlite_foreign_keys(_upgrade)


def downgrade():
    _without_sqlite_foreign_keys(_downgrade)


def _upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        'api_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
        sa.UniqueConstraint('digest', name=op.f('uq_api_tokens_digest')),
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
        batch_op.create_index('uq_api_tokens_user_id_name_live', ['user_id', 'name'], unique=True,
                              postgresql_where=sa.text('revoked_at IS NULL'),
                              sqlite_where=sa.text('revoked_at IS NULL'))

    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('digest', name=op.f('uq_user_sessions_digest')),
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    # Every existing token keeps working, as the user's "default" token, for MIGRATED_TOKEN_DAYS.
    now = datetime.now(UTC)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO api_tokens (user_id, name, digest, created_at, expires_at) "
            "SELECT id, 'default', token_hash, :now, :expires FROM users WHERE token_hash IS NOT NULL"
        ).bindparams(
            sa.bindparam('now', _moment(now), type_=sa.DateTime(timezone=True)),
            sa.bindparam('expires', _moment(now + timedelta(days=MIGRATED_TOKEN_DAYS)),
                         type_=sa.DateTime(timezone=True)),
        )
    )

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('uq_users_token_hash', type_='unique')
        batch_op.drop_column('token_hash')


def _downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_users_token_hash', ['token_hash'])

    # Each user's newest live token becomes their one token again; the others are lost with the table.
    op.get_bind().execute(sa.text(
        "UPDATE users SET token_hash = ("
        " SELECT t.digest FROM api_tokens t WHERE t.user_id = users.id AND t.revoked_at IS NULL"
        " ORDER BY t.created_at DESC, t.id DESC LIMIT 1)"
    ))

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index('uq_api_tokens_user_id_name_live',
                            postgresql_where=sa.text('revoked_at IS NULL'),
                            sqlite_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
    op.drop_table('api_tokens')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
