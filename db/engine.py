"""One async engine and session factory per process (asyncpg driver).

PgBouncer in transaction pooling mode hands each *transaction* to any server connection, so a
server-side prepared statement made in one transaction may be missing (or already exist under
the same name) in the next. With ``statement_cache=False`` (the default):

* asyncpg's own statement cache is off (``statement_cache_size=0``), which also makes asyncpg
  re-parse instead of relying on a statement surviving between protocol messages;
* SQLAlchemy's prepared-statement cache is off (``prepared_statement_cache_size=0``);
* the statements SQLAlchemy still prepares (to learn result types) get a unique name each time,
  so two clients sharing a server connection never collide on ``__asyncpg_stmt_1__``.

Turn ``statement_cache`` on only when connecting straight to PostgreSQL; it saves a parse per
statement.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db.json_codec import dumps_exact, loads_exact
from db.pool_metrics import timeout_counting_pool


def _unique_statement_name() -> str:
    return f"__orderflow_{uuid4().hex}__"


def pgbouncer_safe_connect_args() -> dict[str, Any]:
    """asyncpg connect arguments that never rely on a prepared statement outliving a transaction."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout_s: float = 30.0,
    statement_cache: bool = False,
    echo: bool = False,
    pool_pre_ping: bool = True,
    application_name: str = "orderflow",
    on_pool_timeout: Callable[[], None] | None = None,
) -> AsyncEngine:
    """An asyncpg engine for ``database_url`` (``postgresql+asyncpg://…``).

    ``pool_pre_ping`` checks a pooled connection before use, so a restarted database or
    PgBouncer costs one reconnect instead of one failed activity attempt. JSON(B) values are
    written and read with decimals intact (see :mod:`db.json_codec`). ``on_pool_timeout`` is
    called for every checkout that timed out (:class:`db.pool_metrics.PoolMetrics` counts them).
    """
    connect_args: dict[str, Any] = {"server_settings": {"application_name": application_name}}
    if not statement_cache:
        connect_args.update(pgbouncer_safe_connect_args())
    pool_options: dict[str, Any] = {}
    if on_pool_timeout is not None:
        pool_options["poolclass"] = timeout_counting_pool(on_pool_timeout)
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout_s,
        pool_pre_ping=pool_pre_ping,
        echo=echo,
        # Errors must not carry parameter values (order data) into DLQ headers, workflow
        # failures or logs.
        hide_parameters=True,
        connect_args=connect_args,
        json_serializer=dumps_exact,
        json_deserializer=loads_exact,
        **pool_options,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded values after commit (callers own the transaction)."""
    return async_sessionmaker(engine, expire_on_commit=False)
