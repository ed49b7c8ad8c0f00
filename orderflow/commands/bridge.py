"""``orderflow bridge``: consume ``order.create.v1`` and start one workflow per order.

Entry point only: settings -> :func:`workers.bridge_process.run_bridge_process`. SIGTERM and Ctrl-C
stop it cleanly (finished offsets committed, exit 0).
"""

from __future__ import annotations

import asyncio

from orderflow.commands.common import load_settings_or_exit


def bridge() -> None:
    """Run the Kafka -> Temporal bridge until SIGTERM (needs ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS,
    ORDERFLOW_TEMPORAL__ADDRESS and ORDERFLOW_CODEC__KEYS; see docs/architecture.md)."""
    from config.settings import CODEC, KAFKA, TEMPORAL
    from config.telemetry import configure_logging, tracing
    from workers.bridge_process import run_bridge_process

    settings = load_settings_or_exit(KAFKA, TEMPORAL, CODEC)
    configure_logging(settings.telemetry, component="bridge")
    with tracing(settings.telemetry, component="bridge") as tracer_provider:
        asyncio.run(run_bridge_process(settings, tracer_provider=tracer_provider))
