"""The database engine of a process, from settings (one engine per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import DATABASE, ConfigError, DatabaseSettings, env_name
from db.engine import create_engine
from db.pool_metrics import PoolMetrics


def database_url(database: DatabaseSettings) -> str:
    """``ORDERFLOW_DATABASE__URL`` in its asyncpg form; :class:`ConfigError` when unset."""
    if database.url is None:
        raise ConfigError(f"{env_name(*DATABASE)} is not set")
    return database.url.get_secret_value()


def engine_from(
    database: DatabaseSettings,
    *,
    application_name: str,
    pool_size: int | None = None,
    metrics_registry: CollectorRegistry | None = None,
    pre_ping: bool = True,
) -> AsyncEngine:
    """An asyncpg engine sized by the settings (``pool_size`` overrides them for one-shot
    commands that need a single connection).

    ``metrics_registry``: export the engine's pool there (``orderflow_db_pool_*``); the
    long-running processes pass theirs, once per process (a registry takes one collector of a
    name). ``pre_ping``: test each pooled connection before use (a round trip per checkout);
    the worker turns it off, since an activity that meets a dead connection is retried anyway.
    """
    max_overflow = database.max_overflow if pool_size is None else 0
    metrics = PoolMetrics(max_overflow=max_overflow) if metrics_registry is not None else None
    engine = create_engine(
        database_url(database),
        pool_size=database.pool_size if pool_size is None else pool_size,
        max_overflow=max_overflow,
        pool_timeout_s=database.pool_timeout_s,
        statement_cache=database.statement_cache,
        echo=database.echo,
        application_name=application_name,
        pool_pre_ping=pre_ping,
        on_pool_timeout=None if metrics is None else metrics.count_timeout,
    )
    if metrics is not None and metrics_registry is not None:
        metrics.watch(engine)
        metrics_registry.register(metrics)
    return engine
