import logging
from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context
from flask import current_app

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging.
# This line sets up loggers basically.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    """The owner's engine when MIGRATION_DATABASE_URL is set, else the app's own (DATABASE_URL)."""
    url = current_app.config.get("MIGRATION_DATABASE_URL")
    if url:
        return sa.create_engine(url, poolclass=sa.pool.NullPool)
    return current_app.extensions['migrate'].db.engine


# The database's own defence of the history: the role the service runs as (DATABASE_URL) may read and
# add rows of these tables but never change or remove one, and never writes Alembic's bookkeeping.
# Every other table is a working table: SELECT, INSERT, UPDATE, DELETE. A new append-only table
# belongs in APPEND_ONLY. Alembic's bookkeeping it may only read, for /readyz (web/health.py).
APPEND_ONLY = ("history", "workflow_versions", "scoresheet_versions", "audit_runs", "audit_access")
MIGRATIONS_ONLY = ("alembic_version",)


def app_role(migration_url):
    """The role to grant: DATABASE_APP_ROLE, else DATABASE_URL's user when the migrations run as another."""
    role = current_app.config.get("DATABASE_APP_ROLE") or \
        sa.engine.make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).username
    # Never the migrating role itself: revoking its own rights would lock the owner out of its tables.
    return role if role and role != migration_url.username else None


def grant_app_role(connection, role):
    """Give `role` exactly what the service needs in this schema, whatever it held before.

    Re-derived from the tables that exist after every upgrade, so tables added by later migrations
    are covered without a migration of their own naming the role.
    """
    quote = connection.dialect.identifier_preparer.quote
    schema = connection.execute(sa.text("SELECT current_schema()")).scalar_one()
    tables = connection.execute(
        sa.text("SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"), {"schema": schema}
    ).scalars().all()
    who, where = quote(role), quote(schema)
    statements = [
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {where} FROM {who}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {who}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
    ]
    for table in tables:
        if table in MIGRATIONS_ONLY:
            statements.append(f"GRANT SELECT ON {where}.{quote(table)} TO {who}")
            continue
        rights = "SELECT, INSERT" if table in APPEND_ONLY else "SELECT, INSERT, UPDATE, DELETE"
        statements.append(f"GRANT {rights} ON {where}.{quote(table)} TO {who}")
    for statement in statements:
        connection.execute(sa.text(statement))
    logger.info("Granted role %s the service's rights on the %d tables of schema %s", role, len(tables), schema)


def get_engine_url():
    if current_app.config.get("MIGRATION_DATABASE_URL"):
        url = sa.engine.make_url(current_app.config["MIGRATION_DATABASE_URL"])
        return url.render_as_string(hide_password=False).replace('%', '%%')
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=get_metadata(),
            **conf_args
        )

        with context.begin_transaction():
            context.run_migrations()
            # upgrade, downgrade and stamp name a destination; `current`, `history` and `check` only read.
            moved = context.get_context().opts.get("destination_rev") is not None
            role = app_role(connection.engine.url) if connection.dialect.name == "postgresql" else None
            if moved and role:
                grant_app_role(connection, role)
    if connectable is not current_app.extensions['migrate'].db.engine:
        connectable.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
