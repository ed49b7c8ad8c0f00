"""Readiness checks: each dependency a process needs, answered within a deadline.

All checks of a process run concurrently, so ``/health/ready`` answers within about
``timeout_s`` even when a service hangs. A failure is reported by part name and error type only
(the endpoint is unauthenticated; the full error goes to the log).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

log = structlog.get_logger("orderflow.probes")

# A check raises when its part is not usable; returning means ready.
Check = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    error: str | None = None


class NotReadyError(RuntimeError):
    """A part answers but is not doing its job yet (no partitions, not polling …)."""


async def _run(name: str, check: Check, timeout_s: float) -> CheckResult:
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except TimeoutError:
        log.warning("readiness check timed out", part=name, timeout_s=timeout_s)
        return CheckResult(name, ok=False, error=f"no answer within {timeout_s:g}s")
    except Exception as exc:
        log.warning("readiness check failed", part=name, error=repr(exc))
        detail = str(exc) if isinstance(exc, NotReadyError) else type(exc).__name__
        return CheckResult(name, ok=False, error=detail)
    return CheckResult(name, ok=True)


async def run_checks(checks: Mapping[str, Check], *, timeout_s: float) -> list[CheckResult]:
    """Every check, concurrently, each within ``timeout_s``."""
    return list(
        await asyncio.gather(*(_run(name, check, timeout_s) for name, check in checks.items()))
    )


def ready_body(results: list[CheckResult]) -> dict[str, Any]:
    """The JSON of ``/health/ready``: ``Status``, ``Failing`` and every check's outcome."""
    failing = [result.name for result in results if not result.ok]
    return {
        "Status": "unavailable" if failing else "ready",
        "Failing": failing,
        "Checks": {result.name: {"Ok": result.ok, "Error": result.error} for result in results},
    }


async def check_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def check_temporal(client: Client, timeout_s: float) -> None:
    if not await client.service_client.check_health(timeout=timedelta(seconds=timeout_s)):
        raise NotReadyError("Temporal frontend reports not serving")


# A worker's long poll returns within about a minute; a poller not seen for this long is gone.
POLLER_FRESHNESS = timedelta(minutes=2)


async def check_polling(client: Client, task_queue: str, timeout_s: float) -> None:
    """This process (its client's identity) polls ``task_queue`` for workflow tasks.

    Temporal records each poller's identity and last poll; a worker that stopped polling
    (shutting down, wedged, or disconnected) drops out of that list.
    """
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timedelta(seconds=timeout_s),
    )
    now = datetime.now(UTC)
    for poller in response.pollers:
        seen = poller.last_access_time.ToDatetime(tzinfo=UTC)
        if poller.identity == client.identity and now - seen < POLLER_FRESHNESS:
            return
    raise NotReadyError(f"not polling task queue {task_queue!r}")
