"""case_fulltext: full-text search over case data, comments and numbers

Revision ID: c2c0de000009
Revises: c1c0de000008
Create Date: 2026-12-01 14:10:00

A search document per case (`cases.search_text`, see workflow/engine/fulltext.py), filled here for the
cases that exist, and on PostgreSQL a trigram GIN index on it (pg_trgm). CREATE EXTENSION needs the
schema's owner (the migrations run as MIGRATION_DATABASE_URL's role) and, pg_trgm being a trusted
extension, no superuser.
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "c2c0de000009"
down_revision = "c1c0de000008"
branch_labels = None
depends_on = None

BATCH = 1000
MAX_PIECE = 4000


# The document as engine/fulltext.py builds it, frozen here: a later change there must not change what
# this migration wrote.
def _texts(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        yield str(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _document(values):
    found = []
    for text in _texts(values):
        piece = " ".join(text.split())[:MAX_PIECE].lower()
        if piece and piece not in found and all(piece not in p for p in found):
            found.append(piece)
    return "\n".join(found)


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _trigram_schema(bind):
    return bind.execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'")).scalar()


def _create_extension(bind):
    """The schema pg_trgm is installed in, installing it if need be: in `public` where this role may (so that
    a schema dropped later, a test's say, does not take it along), else in this schema."""
    schema = _trigram_schema(bind)
    if schema is not None:
        return schema
    problem = None
    for where in (" SCHEMA public", ""):
        try:
            with bind.begin_nested():
                bind.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS pg_trgm{where}"))
            return _trigram_schema(bind)
        except sa.exc.DBAPIError as exc:
            problem = exc
    raise RuntimeError(
        "The case search needs the PostgreSQL extension pg_trgm, and this role may not create it. Run the "
        "migrations as the schema's owner (MIGRATION_DATABASE_URL), or have a superuser run "
        "`CREATE EXTENSION pg_trgm` in this database once, then migrate again. "
        f"PostgreSQL said: {str(getattr(problem, 'orig', problem)).strip()}"
    ) from problem


def _backfill(bind):
    cases = sa.table("cases", sa.column("id"), sa.column("number"), sa.column("data"),
                     sa.column("search_text"))
    history = sa.table("history", sa.column("case_id"), sa.column("seq"), sa.column("comment"),
                       sa.column("inputs"))
    last = 0
    while True:
        batch = bind.execute(sa.select(cases.c.id, cases.c.number, cases.c.data).where(cases.c.id > last)
                             .order_by(cases.c.id).limit(BATCH)).all()
        if not batch:
            return
        ids = [row.id for row in batch]
        rows = {}
        for case_id, comment, inputs in bind.execute(
            sa.select(history.c.case_id, history.c.comment, history.c.inputs)
            .where(history.c.case_id.in_(ids)).order_by(history.c.case_id, history.c.seq)
        ):
            rows.setdefault(case_id, []).extend([comment, _json(inputs)])
        bind.execute(
            cases.update().where(cases.c.id == sa.bindparam("b_id")).values(search_text=sa.bindparam("doc")),
            [{"b_id": r.id, "doc": _document([r.number, _json(r.data), *rows.get(r.id, [])])} for r in batch],
        )
        last = ids[-1]


def upgrade():
    bind = op.get_bind()
    # The operator class named with its schema: the extension's schema need not be on the search path.
    ops = {}
    if bind.dialect.name == "postgresql":
        ops = {"search_text": f'"{_create_extension(bind)}".gin_trgm_ops'}
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))
    _backfill(bind)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_search_text", ["search_text"], unique=False, postgresql_using="gin",
                              postgresql_ops=ops)


def downgrade():
    # The extension stays: other schemas of the database may use it. SQLite (3.35 and later) drops the column
    # in place: a batch would copy the table, which the history's foreign keys refuse once there are cases.
    op.drop_index("ix_cases_search_text", table_name="cases")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE cases DROP COLUMN search_text")
    else:
        op.drop_column("cases", "search_text")
