"""The two PostgreSQL roles of a least-privileged deployment, made on a test database (CI, the drills).

`workflow_owner` owns the schema and runs the migrations; `workflow_app` is the role the service runs
as, granted by the migrations (migrations/env.py) only what the service needs. Both may log in
without a password, which suits CI's trust authentication only; production roles are made by hand
(docs/operations.md, "Database roles").

    python -m tests.pg_roles postgresql://postgres@127.0.0.1:5432/test
    # MIGRATION_DATABASE_URL=postgresql://workflow_owner@127.0.0.1:5432/test
    # DATABASE_URL=postgresql://workflow_app@127.0.0.1:5432/test
"""

from __future__ import annotations

import sys

import sqlalchemy as sa

OWNER, APP = "workflow_owner", "workflow_app"

# Idempotent, and safe when two runs race: a concurrent CREATE ROLE fails with unique_violation.
ROLES_SQL = """
DO $$
BEGIN
    BEGIN CREATE ROLE workflow_owner LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    BEGIN CREATE ROLE workflow_app LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
    EXECUTE format('GRANT CONNECT, CREATE ON DATABASE %I TO workflow_owner', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO workflow_app', current_database());
END $$;
ALTER ROLE workflow_owner NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
ALTER ROLE workflow_app NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
"""


def as_role(url: str, role: str) -> str:
    """`url` logging in as `role`, without a password."""
    return sa.engine.make_url(url).set(username=role, password=None).render_as_string(hide_password=False)


def ensure_roles(admin_url: str) -> tuple[str, str]:
    """Make both roles on `admin_url`'s database if missing (needs a superuser); (owner url, app url)."""
    admin = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(ROLES_SQL))
    finally:
        admin.dispose()
    return as_role(admin_url, OWNER), as_role(admin_url, APP)


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
    driver = url if "+" in url.split("://", 1)[0] else "postgresql+psycopg://" + url.split("://", 1)[1]
    owner, app = ensure_roles(driver)
    print(f"MIGRATION_DATABASE_URL={owner}")
    print(f"DATABASE_URL={app}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
