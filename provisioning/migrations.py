"""Run the Alembic migrations from code (the CLI and the local stack use this).

The configuration is built here, so neither ``alembic.ini`` nor the working directory matter.
Each run is one transaction holding an advisory lock: concurrent callers wait, then find the
database already at the target revision. ``upgrade``/``downgrade`` run their own event loop,
so from async code use :func:`upgrade_async` (it runs them in a worker thread).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

# Alembic's ``context`` is process-global, so two runs in one process (say, two threads) would
# trample each other; across processes the advisory lock in env.py serializes them.
_IN_PROCESS = threading.Lock()


def migrations_dir() -> Path:
    import migrations

    return Path(migrations.__file__).parent


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Passed as an attribute, not a main option: configparser would mangle a "%" in a password.
    if database_url is not None:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (a no-op when it is there already)."""
    with _IN_PROCESS:
        command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate down to ``revision`` (``"base"`` removes every table of this schema)."""
    with _IN_PROCESS:
        command.downgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, database_url, revision)


def head_revision() -> str:
    """The newest revision in ``migrations/versions``."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head
