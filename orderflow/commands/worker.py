"""``orderflow worker``: run the order worker (``OrderWorkflow`` + activities, task queue
``orders``) until SIGTERM or Ctrl-C, then drain in-flight tasks and exit 0."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from orderflow.commands.common import load_settings_or_exit, stop_on_signals

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from orderflow.settings import Settings


def worker() -> None:
    """Run the Temporal worker for orders (settings: ORDERFLOW_TEMPORAL__*, ORDERFLOW_WORKER__*)."""
    from orderflow.telemetry import configure_logging, tracing

    settings = load_settings_or_exit()
    configure_logging(settings.telemetry)
    with tracing(settings.telemetry, component="worker") as tracer_provider:
        asyncio.run(_run(settings, tracer_provider))


async def _run(settings: Settings, tracer_provider: TracerProvider | None) -> None:
    from workers.order_worker import run_worker

    stop = stop_on_signals()
    # The worker, its client, producer and engine are shut down inside run_worker, before the
    # interpreter exits (a temporalio process exiting with live clients can crash at exit).
    await run_worker(settings, stop=stop, tracer_provider=tracer_provider)
