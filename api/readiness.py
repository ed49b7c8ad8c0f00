"""Readiness checks: can this process reach PostgreSQL, Temporal and the Kafka broker?

Each check runs with a short deadline and all run concurrently, so ``/health/ready`` answers
within about ``timeout_s`` even when a service hangs. A failure is reported by part name and
error type only (the endpoint is unauthenticated; the full error goes to the log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

log = structlog.get_logger("orderflow.api.readiness")

DATABASE = "database"
TEMPORAL = "temporal"
KAFKA = "kafka"


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    error: str | None = None


class KafkaProbe:
    """One admin client kept between checks; rebuilt after a failure (broker restarted, or
    down when the app started). A metadata request proves the broker answers."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self._options = dict(options)
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        async with self._lock:
            try:
                if self._admin is None:
                    admin = AIOKafkaAdminClient(**self._options)
                    self._admin = admin
                    await admin.start()
                await self._admin.list_topics()
            except BaseException:
                # Includes cancellation by the check's deadline: start afresh next time.
                await self.close()
                raise

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            await admin.close()


async def check_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def check_temporal(client: Client, timeout_s: float) -> None:
    if not await client.service_client.check_health(timeout=timedelta(seconds=timeout_s)):
        raise RuntimeError("Temporal frontend reports not serving")


async def _run(name: str, check: Awaitable[None], timeout_s: float) -> CheckResult:
    try:
        async with asyncio.timeout(timeout_s):
            await check
    except TimeoutError:
        log.warning("readiness check timed out", part=name, timeout_s=timeout_s)
        return CheckResult(name, ok=False, error=f"no answer within {timeout_s:g}s")
    except Exception as exc:
        log.warning("readiness check failed", part=name, error=repr(exc))
        return CheckResult(name, ok=False, error=type(exc).__name__)
    return CheckResult(name, ok=True)


async def check_all(
    engine: AsyncEngine, client: Client, kafka: KafkaProbe, *, timeout_s: float
) -> list[CheckResult]:
    """Database, Temporal and Kafka, concurrently, each within ``timeout_s``."""
    return list(
        await asyncio.gather(
            _run(DATABASE, check_database(engine), timeout_s),
            _run(TEMPORAL, check_temporal(client, timeout_s), timeout_s),
            _run(KAFKA, kafka.check(), timeout_s),
        )
    )
