"""``orderflow bridge``: consume ``order.create.v1`` and start one workflow per order.

Entry point only: settings -> clients -> :func:`bridges.runner.run_bridge`. SIGTERM and
Ctrl-C stop it cleanly (finished offsets committed, exit 0).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import typer

from orderflow.commands.common import load_settings_or_exit, stop_on_signals

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from orderflow.settings import Settings


def bridge(
    metrics_port: int | None = typer.Option(
        None,
        help="Serve Prometheus metrics on this port (default: ORDERFLOW_BRIDGE__METRICS_PORT, "
        "else off).",
    ),
) -> None:
    """Run the Kafka -> Temporal bridge until SIGTERM (see docs/architecture.md)."""
    from orderflow.telemetry import configure_logging, tracing

    settings = load_settings_or_exit()
    configure_logging(settings.telemetry)
    port = metrics_port if metrics_port is not None else settings.bridge.metrics_port
    if port is not None:
        from prometheus_client import start_http_server

        start_http_server(port, addr=settings.bridge.metrics_host)
    with tracing(settings.telemetry, component="bridge") as tracer_provider:
        asyncio.run(_run(settings, tracer_provider))


def kafka_options(
    settings: Settings, *, group_id: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Consumer (group ``group_id``, else ``settings.bridge.group_id``) and DLQ-producer options
    from settings alone (the ``dlq`` commands use them too).

    Security (PLAINTEXT, SSL, SASL_SSL with ``$ConnectionString`` for Event Hubs) comes from
    ``orderflow.kafka``; the producer can write back anything the consumer fetches.
    """
    from bridges.runner import dead_letter_producer_options
    from orderflow.devstack.discovery import bootstrap_servers
    from orderflow.kafka import consumer_options, producer_options

    servers = bootstrap_servers(settings)
    consumer = consumer_options(
        settings.kafka,
        group_id=settings.bridge.group_id if group_id is None else group_id,
        bootstrap_servers=servers,
    )
    producer = producer_options(settings.kafka, bootstrap_servers=servers)
    return consumer, dead_letter_producer_options(producer, consumer)


async def _run(settings: Settings, tracer_provider: TracerProvider | None) -> None:
    from bridges.consumer import BridgeConfig
    from bridges.metrics import BridgeMetrics
    from bridges.runner import run_bridge
    from bridges.starter import start_with_contract_helper
    from orderflow.telemetry import temporal_interceptors
    from workers.temporal_client import connect_temporal
    from workers.workflow_options import workflow_options

    stop = stop_on_signals()
    consumer, producer = kafka_options(settings)
    # Lazy: the bridge starts even while Temporal is down, and backs off until it is up.
    client = await connect_temporal(
        settings, lazy=True, interceptors=temporal_interceptors(tracer_provider)
    )
    await run_bridge(
        consumer_options=consumer,
        producer_options=producer,
        client=client,
        start=start_with_contract_helper,
        config=BridgeConfig(
            max_in_flight=settings.bridge.max_in_flight,
            max_message_bytes=settings.kafka.max_message_bytes,
            backoff_initial_s=settings.bridge.backoff_initial_s,
            backoff_max_s=settings.bridge.backoff_max_s,
            workflow_options=workflow_options(settings.worker),
        ),
        metrics=BridgeMetrics.create(),
        stop=stop,
        tracer_provider=tracer_provider,
    )
