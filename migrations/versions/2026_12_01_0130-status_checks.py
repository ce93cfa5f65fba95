"""status checks: the database holds every fixed-value string column to its values

Revision ID: e3a1c5d70130
Revises: d2b8f6e30120
Create Date: 2026-12-01 01:30:00

Timer and evidence statuses, history and notification kinds and the e-mail status were plain strings
that only the service kept to their values; a CHECK constraint now refuses anything else, whoever
writes. The names follow the models' naming convention (ck_<table>_<name>), where workflow/models.py
declares the same lists through `one_of`.

SQLite cannot add a constraint to a table: batch mode copies each table into a new one. The copy of
history loses its append-only triggers, so they are made again (as in the initial schema); the
TRUNCATE trigger is PostgreSQL's only and is not touched there.
"""
from alembic import op

revision = 'e3a1c5d70130'
down_revision = 'd2b8f6e30120'
branch_labels = None
depends_on = None


# table -> (constraint name without the ck_<table>_ prefix, column, allowed values)
CHECKS = {
    'history': [('kind', 'kind', ('transition', 'notice'))],
    'timers': [('status', 'status', ('running', 'stopped'))],
    'notifications': [
        ('kind', 'kind', ('warning', 'overdue', 'reminder', 'inquiry', 'late')),
        ('email_status', 'email_status', ('none', 'pending', 'sent', 'failed')),
    ],
    'evidence': [('status', 'status', ('proposed', 'accepted', 'rejected'))],
}

SQLITE_HISTORY_TRIGGERS = [
    f"CREATE TRIGGER history_no_{verb.lower()} BEFORE {verb} ON history "
    f"BEGIN SELECT RAISE(ABORT, 'history is append-only: {verb} refused'); END"
    for verb in ("UPDATE", "DELETE")
]


def _sqlite():
    return op.get_bind().dialect.name == 'sqlite'


def _recreate_sqlite_history_triggers():
    # Batch mode rebuilt history as a new table; the old one's triggers went with it.
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS history_no_{verb}")
    for statement in SQLITE_HISTORY_TRIGGERS:
        op.execute(statement)


def upgrade():
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, values in checks:
                allowed = ", ".join(f"'{v}'" for v in values)
                batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'), f"{column} IN ({allowed})")
    if _sqlite():
        _recreate_sqlite_history_triggers()


def downgrade():
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _, _ in checks:
                batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
    if _sqlite():
        _recreate_sqlite_history_triggers()
