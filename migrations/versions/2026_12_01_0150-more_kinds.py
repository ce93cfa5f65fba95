"""more kinds: history rows for notes, migrations and assignments; notifications for mentions,
assignments, chain breaks, reports and escalations

Revision ID: a1c0de000001
Revises: f4b2d6e80140
Create Date: 2026-12-01 01:50:00

A note on a case, the migration of a running case to a later version of its workflow and the
assignment of a case to a person are records in the case's chain like a notice: they leave the state
as it is. The CHECK constraints on the kinds are widened; nothing else changes.
"""
from alembic import op

revision = "a1c0de000001"
down_revision = "f4b2d6e80140"
branch_labels = None
depends_on = None

OLD = {
    "history": ("transition", "notice"),
    "notifications": ("warning", "overdue", "reminder", "inquiry", "late"),
}
NEW = {
    "history": (*OLD["history"], "note", "migration", "assignment"),
    "notifications": (*OLD["notifications"], "mention", "assignment", "chain_break", "report", "escalation"),
}

SQLITE_HISTORY_TRIGGERS = [
    f"CREATE TRIGGER history_no_{verb.lower()} BEFORE {verb} ON history "
    f"BEGIN SELECT RAISE(ABORT, 'history is append-only: {verb} refused'); END"
    for verb in ("UPDATE", "DELETE")
]


def _set(kinds):
    for table, values in kinds.items():
        allowed = ", ".join(f"'{v}'" for v in values)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_kind"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_{table}_kind"), f"kind IN ({allowed})")
    if op.get_bind().dialect.name == "sqlite":
        # Batch mode rebuilt history as a new table; the old one's triggers went with it.
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS history_no_{verb}")
        for statement in SQLITE_HISTORY_TRIGGERS:
            op.execute(statement)


def upgrade():
    _set(NEW)


def downgrade():
    _set(OLD)
