"""Run the bridge with its own Kafka clients: start them (waiting for the broker), run, close.

Takes plain option dicts (built from settings by the entry point), so tests run the same code
in-process against the session's broker and Temporal server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from opentelemetry.trace import TracerProvider
from temporalio.client import Client

from bridges.backoff import StopRequestedError, retry_until_done
from bridges.consumer import BridgeConfig, OrderBridge
from bridges.metrics import BridgeMetrics
from bridges.starter import StartFunction
from bridges.status import BridgeStatus

log = structlog.get_logger("orderflow.bridge")


async def _start_when_reachable(
    client: AIOKafkaConsumer | AIOKafkaProducer,
    name: str,
    config: BridgeConfig,
    stop: asyncio.Event,
) -> None:
    def on_failure(error: BaseException, wait_s: float) -> None:
        log.warning("bridge.kafka_unreachable", client=name, error=repr(error), retry_in_s=wait_s)

    await retry_until_done(
        client.start,
        is_transient=lambda error: isinstance(error, KafkaError),
        initial_s=config.backoff_initial_s,
        max_s=config.backoff_max_s,
        stop=stop,
        on_failure=on_failure,
    )


async def run_bridge(
    *,
    consumer_options: dict[str, Any],
    producer_options: dict[str, Any],
    client: Client,
    start: StartFunction,
    config: BridgeConfig,
    metrics: BridgeMetrics,
    stop: asyncio.Event,
    tracer_provider: TracerProvider | None = None,
    status: BridgeStatus | None = None,
) -> None:
    """Consume until ``stop`` is set, then commit what is done and close the Kafka clients.

    ``tracer_provider``: where the per-record spans go (default: the global one, a no-op
    unless tracing is configured).
    """
    producer = AIOKafkaProducer(**producer_options)
    consumer = AIOKafkaConsumer(**consumer_options)
    try:
        await _start_when_reachable(producer, "producer", config, stop)
        await _start_when_reachable(consumer, "consumer", config, stop)
        log.info("bridge.started", topic=config.topic, group=consumer_options.get("group_id"))
        bridge = OrderBridge(
            consumer=consumer,
            producer=producer,
            client=client,
            start=start,
            config=config,
            metrics=metrics,
            tracer_provider=tracer_provider,
            status=status,
        )
        await bridge.run(stop)
    except StopRequestedError:
        log.info("bridge.stopped_before_start")
    finally:
        # Leaves the group at once, so a restarted bridge gets the partitions without waiting
        # for the session timeout. No commit happens here (auto-commit is off).
        await consumer.stop()
        await producer.stop()
