"""Helpers of the bridge and DLQ integration tests: private topics, producing, polling, lag.

Each test gets its own source topic (``order.create.v1.<suffix>``, with its ``.dlq``) on the
session broker and its own consumer group, so tests never see each other's records. The code
under test derives the DLQ topic from the source topic, as in production.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry
from temporalio.client import Client
from temporalio.service import RPCError

from bridges.consumer import BridgeConfig
from bridges.metrics import BridgeMetrics
from bridges.runner import run_bridge
from bridges.starter import StartFunction, start_with_contract_helper
from config.kafka import consumer_options, producer_options
from config.settings import KafkaSettings
from contracts.ids import workflow_id
from contracts.topics import ORDER_CREATE_V1, dlq_topic
from provisioning.topics import create_topics
from tests.fixtures.kafka import TEST_PARTITIONS, kafka_test_options
from tests.helpers.ids import unique

Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]
# Big enough for the 2 MiB poison record.
LARGE_REQUEST = 3 * 1024 * 1024
# How often tests poll the broker (each lag check opens a consumer of its own).
KAFKA_POLL_S = 0.25


async def private_topic(bootstrap: str) -> str:
    """A fresh ``order.create.v1.<suffix>`` topic and its DLQ on the session broker."""
    topic = f"{ORDER_CREATE_V1}.{uuid.uuid4().hex[:10]}"
    await create_topics(
        kafka_test_options(bootstrap),
        partitions=TEST_PARTITIONS,
        replication_factor=1,
        retention_ms=604_800_000,
        topics=[topic, dlq_topic(topic)],
    )
    return topic


async def produce(bootstrap: str, topic: str, records: Sequence[Record]) -> None:
    options = producer_options(KafkaSettings(bootstrap_servers=bootstrap))
    producer = AIOKafkaProducer(**{**options, "max_request_size": LARGE_REQUEST})
    await producer.start()
    try:
        batch = [
            await producer.send(topic, value=value, key=key, headers=headers)
            for key, value, headers in records
        ]
        await asyncio.gather(*batch)
    finally:
        await producer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.topics()
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def exact_ends(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """End offsets, corrected by a fetch: tansu 0.6 lists the last batch's base offset + 1."""
    listed: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    consumer.assign(partitions)
    ends = dict(listed)
    for tp in partitions:
        if listed[tp] == 0:
            continue
        consumer.seek(tp, listed[tp] - 1)
        deadline = time.monotonic() + 30
        while consumer.highwater(tp) is None:
            assert time.monotonic() < deadline, f"no fetch answer for {tp}"
            await consumer.getmany(tp, timeout_ms=500)
        ends[tp] = max(listed[tp], consumer.highwater(tp) or 0)
    return ends


async def read_all(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` right now (no group, nothing committed)."""
    options = consumer_options(KafkaSettings(bootstrap_servers=bootstrap), group_id="")
    consumer = AIOKafkaConsumer(**{**options, "group_id": None})
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        ends = await exact_ends(consumer, partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        deadline = time.monotonic() + 60
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            batch = await consumer.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
        return records
    finally:
        await consumer.stop()


async def lag(bootstrap: str, group: str, topic: str) -> int:
    """Records of ``topic`` not yet committed by ``group`` (all of them when none committed)."""
    options = consumer_options(KafkaSettings(bootstrap_servers=bootstrap), group_id=group)
    consumer = AIOKafkaConsumer(**options)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        ends = await exact_ends(consumer, partitions)
        total = 0
        for tp in partitions:
            committed = await consumer.committed(tp)
            total += ends[tp] - (committed or 0)
        return total
    finally:
        await consumer.stop()


async def lag_is_zero(bootstrap: str, group: str, topic: str) -> bool:
    return await lag(bootstrap, group, topic) == 0


async def workflow_started(client: Client, order_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id(order_id)).describe()
    except RPCError:
        return False
    return True


async def run_count(client: Client, order_id: str) -> int:
    """How many runs Temporal has for the order's workflow ID."""
    count = 0
    async for _ in client.list_workflows(f"WorkflowId = '{workflow_id(order_id)}'"):
        count += 1
    return count


@dataclass
class BridgeRun:
    metrics: BridgeMetrics
    group: str
    topic: str


@asynccontextmanager
async def running_bridge(
    bootstrap: str,
    client: Client,
    topic: str,
    *,
    start: StartFunction = start_with_contract_helper,
    tracer_provider: TracerProvider | None = None,
    producer_overrides: dict[str, Any] | None = None,
    group_override: str | None = None,
    **config: Any,
) -> AsyncIterator[BridgeRun]:
    """The real bridge (``run_bridge``) in this process on ``topic``, stopped on exit
    (``producer_overrides``: aiokafka options replacing those from settings;
    ``group_override``: a consumer group to resume instead of a new one)."""
    group = group_override or unique("orderflow-bridge")
    metrics = BridgeMetrics.create(CollectorRegistry())
    stop = asyncio.Event()
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    task = asyncio.create_task(
        run_bridge(
            consumer_options=consumer_options(settings, group_id=group),
            producer_options={**producer_options(settings), **(producer_overrides or {})},
            client=client,
            start=start,
            config=BridgeConfig(
                topic=topic,
                max_message_bytes=settings.max_message_bytes,
                **{"backoff_initial_s": 0.2, "backoff_max_s": 2.0, **config},
            ),
            metrics=metrics,
            stop=stop,
            tracer_provider=tracer_provider,
        )
    )
    try:
        yield BridgeRun(metrics=metrics, group=group, topic=topic)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)
