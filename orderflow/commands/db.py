"""``orderflow db``: migrations, backup/restore and statistics of the order database.

The database is ``ORDERFLOW_DATABASE__URL`` unless ``--database-url`` names another one (a
restore drill into a scratch database, say).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from config.settings import DatabaseSettings
    from db.backup import PgTools
    from db.stats import DatabaseStats

app = typer.Typer(
    help="The order database: migrations, backup/restore, statistics.", no_args_is_help=True
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Use this database instead of ORDERFLOW_DATABASE__URL."),
]
BinDir = Annotated[
    Path | None,
    typer.Option("--pg-bin-dir", help="Directory of pg_dump/pg_restore matching the server."),
]


def _database(database_url: str | None) -> DatabaseSettings:
    """``--database-url`` if given, else ``ORDERFLOW_DATABASE__URL`` (ConfigError when neither)."""
    from config.settings import DATABASE, DatabaseSettings, load_settings

    if database_url is not None:
        from db.urls import asyncpg_url

        try:
            return DatabaseSettings(url=asyncpg_url(database_url))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--database-url") from None
    return load_settings(DATABASE).database


def _url(database_url: str | None) -> str:
    from config.database import database_url as url_of

    return url_of(_database(database_url))


@app.command()
def upgrade(revision: str = "head", database_url: DatabaseUrl = None) -> None:
    """Migrate the database up to REVISION (default: head)."""
    from provisioning.migrations import upgrade as run_upgrade

    run_upgrade(_url(database_url), revision)
    typer.echo(f"database at {revision}")


@app.command()
def downgrade(
    revision: str,
    database_url: DatabaseUrl = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Migrate the database down to REVISION ("base" drops every order table and its data)."""
    from provisioning.migrations import downgrade as run_downgrade

    url = _url(database_url)
    if not yes:
        typer.confirm(
            f"Downgrade to {revision}? Tables dropped on the way lose their data", abort=True
        )
    run_downgrade(url, revision)
    typer.echo(f"database at {revision}")


@app.command()
def backup(file: Path, database_url: DatabaseUrl = None, pg_bin_dir: BinDir = None) -> None:
    """Write a pg_dump custom-format backup of the database to FILE."""
    from db.backup import backup as run_backup

    tools = _run_pg_tool(run_backup(_url(database_url), file, bin_dir=pg_bin_dir))
    typer.echo(f"backup written to {file} (pg_dump {tools.major})")


@app.command()
def restore(
    file: Path,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the backup's objects in a non-empty database.")
    ] = False,
    database_url: DatabaseUrl = None,
    pg_bin_dir: BinDir = None,
) -> None:
    """Restore FILE into the database (which must be empty unless --force)."""
    from db.backup import restore as run_restore

    tools = _run_pg_tool(run_restore(_url(database_url), file, force=force, bin_dir=pg_bin_dir))
    typer.echo(f"restored {file} (pg_restore {tools.major})")


def _run_pg_tool(job: Coroutine[None, None, PgTools]) -> PgTools:
    """Run a backup/restore; its refusals and failures become a message and exit code 1."""
    from db.backup import BackupError

    try:
        return asyncio.run(job)
    except BackupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command()
def stats(
    database_url: DatabaseUrl = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Slowest statements to show.")] = 10,
) -> None:
    """Table and index sizes, and the slowest statements (pg_stat_statements)."""
    from db.stats import format_stats

    typer.echo(format_stats(asyncio.run(_collect(_database(database_url), limit))))


async def _collect(database: DatabaseSettings, limit: int) -> DatabaseStats:
    from config.database import engine_from
    from db.stats import collect_stats

    engine = engine_from(database, application_name="orderflow-db-stats", pool_size=1)
    try:
        async with engine.connect() as connection:
            return await collect_stats(connection, limit=limit)
    finally:
        await engine.dispose()
