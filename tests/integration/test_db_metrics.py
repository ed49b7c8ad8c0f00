"""The database metrics on a real PostgreSQL: the pool collector (in use, overflow, size,
checkout time-outs of an exhausted pool) and the pg_stat_statements collector's behaviour on a
server without the extension loaded."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from structlog.testing import capture_logs

from api.statement_metrics import StatementMetrics
from config.database import engine_from
from config.settings import DatabaseSettings

pytestmark = pytest.mark.integration


def sample(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(name)


async def test_the_pool_collector_sees_checkouts_overflow_and_timeouts(database_url: str) -> None:
    registry = CollectorRegistry()
    settings = DatabaseSettings(
        url=SecretStr(database_url), pool_size=1, max_overflow=1, pool_timeout_s=0.2
    )
    engine = engine_from(settings, application_name="pool-test", metrics_registry=registry)
    try:
        assert sample(registry, "orderflow_db_pool_size") == 2
        assert sample(registry, "orderflow_db_pool_in_use") == 0
        async with engine.connect() as first, engine.connect() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            assert sample(registry, "orderflow_db_pool_in_use") == 2
            assert sample(registry, "orderflow_db_pool_overflow") == 1
            assert sample(registry, "orderflow_db_pool_timeouts_total") == 0
            # Every connection is out: the next checkout waits 0.2 s, then times out.
            with pytest.raises(PoolTimeoutError):
                async with engine.connect():
                    pass
            assert sample(registry, "orderflow_db_pool_timeouts_total") == 1
        assert sample(registry, "orderflow_db_pool_in_use") == 0
    finally:
        await engine.dispose()
    # A disposed engine gets a new pool of the same class: it keeps counting into the same series.
    assert type(engine.sync_engine.pool).__name__ == "TimeoutCountingPool"


async def test_without_pg_stat_statements_the_collector_exports_nothing_and_says_so_once(
    database_url: str,
) -> None:
    """The session's server does not preload the extension (the dev stack's embedded one
    does; the acceptance test reads real statements there)."""
    engine = engine_from(DatabaseSettings(url=SecretStr(database_url)), application_name="t")
    statements = StatementMetrics()
    registry = CollectorRegistry()
    registry.register(statements)
    try:
        with capture_logs() as logs:
            await statements.refresh(engine)
            await statements.refresh(engine)
    finally:
        await engine.dispose()
    assert list(registry.collect()) == []
    said = [entry for entry in logs if entry["event"] == "statement metrics unavailable"]
    assert len(said) == 1, logs
    assert "pg_stat_statements" in said[0]["reason"]
