"""Alembic environment: async (asyncpg), one transaction per run, serialized by an advisory lock.

The database URL comes from, in order: ``Config.attributes["database_url"]`` (set by
:mod:`provisioning.migrations`), else ``alembic -x database_url=...``.
A caller that already holds a connection can pass it as ``Config.attributes["connection"]``.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from db.engine import pgbouncer_safe_connect_args
from db.models import Base
from db.urls import asyncpg_url

config = context.config
target_metadata = Base.metadata

# Any constant works; it only has to be the same for every process migrating this database.
MIGRATION_LOCK_KEY = 0x6F72646572666C6F  # "orderflo"


def database_url() -> str:
    url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get(
        "database_url"
    )
    if not url:
        raise RuntimeError(
            "no database URL: use `orderflow db upgrade` (ORDERFLOW_DATABASE__URL) or "
            "`alembic -x database_url=postgresql://...`"
        )
    # The migrations run on asyncpg whatever driver the URL names.
    return asyncpg_url(str(url))


def configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
        dialect_opts={"paramstyle": "named"} if connection is None else {},
    )


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: print the SQL instead of running it."""
    configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_with_connection(connection: Connection) -> None:
    configure(connection=connection)
    with context.begin_transaction():
        # Two processes starting at once (say, two workers) must not both run a migration.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def run_async_migrations() -> None:
    # NullPool: a one-off connection; PgBouncer-safe arguments so migrations also run through it.
    engine = create_async_engine(
        database_url(), poolclass=pool.NullPool, connect_args=pgbouncer_safe_connect_args()
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_with_connection)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with_connection(connection)
    else:
        asyncio.run(run_async_migrations())


# Only the `alembic` command line configures logging from alembic.ini; the application's own
# logging is left alone when provisioning.migrations runs the migrations.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
