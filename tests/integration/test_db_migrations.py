"""Migrations: up, down to base, up again; the result matches the models; concurrent runs."""

from __future__ import annotations

import asyncio
import sys
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from db.backup import count_user_objects
from db.engine import create_engine
from db.models import Base
from provisioning.migrations import downgrade, head_revision, upgrade, upgrade_async
from tests.fixtures.database import EmptyDatabases

pytestmark = pytest.mark.integration

SCHEMA_OBJECTS_SQL = """
SELECT 'table:' || tablename FROM pg_tables WHERE schemaname = 'public'
UNION ALL SELECT 'index:' || indexname FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT 'function:' || proname FROM pg_proc
          WHERE pronamespace = 'public'::regnamespace
UNION ALL SELECT 'trigger:' || tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'constraint:' || conname FROM pg_constraint
          WHERE connamespace = 'public'::regnamespace AND contype <> 'n'
"""


async def schema_objects(url: str) -> set[str]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            return set((await connection.execute(text(SCHEMA_OBJECTS_SQL))).scalars())
    finally:
        await engine.dispose()


def differences_from_models(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    with warnings.catch_warnings():
        # A warning would mean autogenerate skipped something (an index it cannot compare).
        warnings.simplefilter("error")
        return list(compare_metadata(context, Base.metadata))


async def autogenerate_diff(url: str) -> list[object]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(differences_from_models)
    finally:
        await engine.dispose()


async def test_up_down_up_leaves_the_schema_the_models_describe(
    empty_databases: EmptyDatabases,
) -> None:
    url = await empty_databases.create("orderflow_migrate")
    await asyncio.to_thread(upgrade, url)
    first = await schema_objects(url)
    assert {"table:orders", "table:order_lines", "table:order_status_history"} <= first
    assert "trigger:orders_history_on_status_change" in first
    assert "function:orderflow_status_transition_allowed" in first

    await asyncio.to_thread(downgrade, url, "base")
    # Only Alembic's (now empty) version table is left.
    assert await schema_objects(url) == {
        "table:alembic_version",
        "index:alembic_version_pkc",
        "constraint:alembic_version_pkc",
    }
    assert await count_user_objects(url) == 1

    await asyncio.to_thread(upgrade, url)
    assert await schema_objects(url) == first
    assert await autogenerate_diff(url) == []


async def test_step_by_step_matches_one_go(empty_databases: EmptyDatabases) -> None:
    url = await empty_databases.create("orderflow_migrate")
    await asyncio.to_thread(upgrade, url, "0001_order_tables")
    tables_only = await schema_objects(url)
    assert not any(name.startswith("trigger:") for name in tables_only)
    await asyncio.to_thread(upgrade, url, "head")
    await asyncio.to_thread(downgrade, url, "0001_order_tables")
    assert await schema_objects(url) == tables_only


async def test_the_models_detect_a_drifted_schema(empty_databases: EmptyDatabases) -> None:
    """Guards the autogenerate check itself: a change behind the models' back is reported."""
    url = await empty_databases.create("orderflow_migrate")
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP INDEX ix_orders_created_at"))
            await connection.execute(text("ALTER TABLE orders ADD COLUMN surprise text"))
    finally:
        await engine.dispose()
    kinds = {diff[0] for diff in await autogenerate_diff(url) if isinstance(diff, tuple)}
    assert {"add_index", "remove_column"} <= kinds


async def test_concurrent_upgrades_wait_for_each_other(empty_databases: EmptyDatabases) -> None:
    """Three processes (say, workers starting together) migrate one empty database at once:
    the advisory lock lets one migrate, the others then find it at head."""
    url = await empty_databases.create("orderflow_migrate")
    script = "import sys; from provisioning.migrations import upgrade; upgrade(sys.argv[1])"
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = await asyncio.wait_for(
        asyncio.gather(*(process.communicate() for process in processes)), 180
    )
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            version = result.scalars().all()
    finally:
        await engine.dispose()
    assert version == [head_revision()]


async def test_migrations_run_through_pgbouncer(
    empty_databases: EmptyDatabases, pgbouncer_url: str
) -> None:
    direct = await empty_databases.create("orderflow_migrate")
    # The test PgBouncer serves every database of the server.
    database = make_url(direct).database
    through_pgbouncer = make_url(pgbouncer_url).set(database=database)
    url = through_pgbouncer.render_as_string(hide_password=False)
    await upgrade_async(url)
    assert await autogenerate_diff(direct) == []
