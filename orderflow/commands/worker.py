"""``orderflow worker``: run the order worker (``OrderWorkflow`` + activities, task queue
``orders``) until SIGTERM or Ctrl-C, then drain in-flight tasks and exit 0."""

from __future__ import annotations

import asyncio

from orderflow.commands.common import load_settings_or_exit


def worker() -> None:
    """Run the Temporal worker for orders (needs ORDERFLOW_DATABASE__URL,
    ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS, ORDERFLOW_TEMPORAL__ADDRESS and ORDERFLOW_CODEC__KEYS)."""
    from config.settings import CODEC, DATABASE, KAFKA, TEMPORAL
    from config.telemetry import configure_logging, tracing
    from workers.order_worker import run_worker

    settings = load_settings_or_exit(DATABASE, KAFKA, TEMPORAL, CODEC)
    configure_logging(settings.telemetry, component="worker")
    with tracing(settings.telemetry, component="worker") as tracer_provider:
        # The worker, its client, producer and engine are shut down inside run_worker, before
        # the interpreter exits (a temporalio process exiting with live clients can crash).
        asyncio.run(run_worker(settings, tracer_provider=tracer_provider))
