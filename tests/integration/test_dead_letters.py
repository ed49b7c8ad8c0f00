"""Faithful dead letters: the original key, value and headers, whoever writes the copy (bridge or
workflow), a DLQ that takes its source's largest record, and a refused copy backed off and
alerted on instead of emptied or dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bridges import consumer
from bridges.handler import StartOrder
from contracts.dlq import header_map
from contracts.topics import dlq_topic
from provisioning.topics import (
    DLQ_HEADROOM_BYTES,
    MAX_MESSAGE_BYTES_CONFIG,
    create_topics,
    topic_configs,
    undersized_dlq_topics,
)
from tests.fixtures.kafka import TEST_PARTITIONS, kafka_test_options
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import (
    lag,
    lag_is_zero,
    private_topic,
    produce,
    read_all,
    running_bridge,
)

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
# The producer's own headers: binary, repeated, and one named like a DLQ header.
PRODUCER_HEADERS = [("trace-note", b"\xff\x00raw"), ("tenant", b"eu"), ("tenant", b"eu-2")]


class RecordingLog:
    """Stands in for the bridge's structlog logger: keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def bind(self, **_: Any) -> RecordingLog:
        return self

    def __getattr__(self, level: str) -> Any:
        def record(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return record


async def test_a_start_temporal_rejects_goes_to_the_dlq_as_workflow_start_rejected(
    kafka_bootstrap: str, temporal_dev_env: WorkflowEnvironment
) -> None:
    async def refuse(_client: Client, _request: StartOrder) -> object:
        raise RPCError("search attribute value too long", RPCStatusCode.INVALID_ARGUMENT, b"")

    topic = await private_topic(kafka_bootstrap)
    value = order_message(unique("REJ")).encode()
    await produce(kafka_bootstrap, topic, [(b"DC-01", value, PRODUCER_HEADERS)])
    async with running_bridge(kafka_bootstrap, temporal_dev_env.client, topic, start=refuse) as run:
        await eventually(
            lambda: lag_is_zero(kafka_bootstrap, run.group, topic), timeout_s=60, what="lag 0"
        )
    (letter,) = await read_all(kafka_bootstrap, dlq_topic(topic))
    assert (letter.key, letter.value) == (b"DC-01", value)
    headers = header_map(letter.headers)
    assert (headers["dlq.stage"], headers["dlq.error.type"]) == ("SCHEMA", "WorkflowStartRejected")
    assert list(letter.headers[:3]) == PRODUCER_HEADERS
    # The name is the one the README documents.
    assert "`WorkflowStartRejected`" in README.read_text()


async def test_the_workflows_dlq_copy_keeps_the_producers_headers(
    kafka_bootstrap: str, temporal_dev_env: WorkflowEnvironment, order_worker: Worker
) -> None:
    """Bridge -> workflow -> write_dead_letter activity: an invalid order's copy carries the
    original record's headers, as a copy written by the bridge does."""
    topic = await private_topic(kafka_bootstrap)
    order_id = unique("HDR")
    value = order_message(order_id, OrderLines=[]).encode()  # ERR_NO_ORDER_LINES: VALIDATE
    await produce(kafka_bootstrap, topic, [(b"DC-01", value, PRODUCER_HEADERS)])
    async with running_bridge(kafka_bootstrap, temporal_dev_env.client, topic):

        async def dead_lettered() -> bool:
            return bool(await read_all(kafka_bootstrap, dlq_topic(topic)))

        await eventually(dead_lettered, timeout_s=90, what="the workflow's DLQ copy")
    (letter,) = await read_all(kafka_bootstrap, dlq_topic(topic))
    assert (letter.key, letter.value) == (b"DC-01", value)
    assert header_map(letter.headers)["dlq.stage"] == "VALIDATE"
    assert list(letter.headers[:3]) == PRODUCER_HEADERS


async def test_a_copy_refused_for_its_size_is_retried_and_alerted_never_emptied(
    kafka_bootstrap: str, temporal_dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = RecordingLog()
    monkeypatch.setattr(consumer, "log", recording)
    topic = await private_topic(kafka_bootstrap)
    poison = b"not json " + b"x" * 40_000
    await produce(kafka_bootstrap, topic, [(b"k-1", poison, PRODUCER_HEADERS)])
    client = temporal_dev_env.client

    # A producer that refuses records above 20 kB stands for a DLQ topic that is too small.
    async with running_bridge(
        kafka_bootstrap, client, topic, producer_overrides={"max_request_size": 20_000}
    ) as run:

        async def refused_twice() -> bool:
            failures = run.metrics.registry.get_sample_value(
                "orderflow_bridge_transient_failures_total", {"operation": "dlq_write"}
            )
            return (failures or 0) >= 2

        await eventually(refused_twice, timeout_s=60, what="two refused DLQ writes")
        assert run.metrics.registry.get_sample_value("orderflow_bridge_paused") == 1
        assert await lag(kafka_bootstrap, run.group, topic) == 1  # not committed
        group = run.group
    assert await read_all(kafka_bootstrap, dlq_topic(topic)) == []  # nothing emptied or cut
    alerts = [fields for level, event, fields in recording.lines if level == "error"]
    assert alerts
    assert all(f["topic"] == dlq_topic(topic) for f in alerts)
    assert alerts[0]["value_bytes"] == len(poison)

    # Once the DLQ takes it, the same record goes through whole and is committed.
    async with running_bridge(kafka_bootstrap, client, topic, group_override=group):
        await eventually(
            lambda: lag_is_zero(kafka_bootstrap, group, topic), timeout_s=60, what="lag 0"
        )
    (letter,) = await read_all(kafka_bootstrap, dlq_topic(topic))
    assert (letter.key, letter.value) == (b"k-1", poison)
    assert list(letter.headers[:3]) == PRODUCER_HEADERS


async def test_dlq_topics_are_sized_for_their_sources_largest_record(kafka_bootstrap: str) -> None:
    options = kafka_test_options(kafka_bootstrap)
    limit = 2 * 1024 * 1024
    # A source whose broker-reported limit (5 MiB) is above the setting: that one counts.
    big = f"sizing.big.{unique('t')}"
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(big, 1, 1, topic_configs={MAX_MESSAGE_BYTES_CONFIG: str(5 * 1024 * 1024)})]
        )
    finally:
        await admin.close()
    plain = f"sizing.plain.{unique('t')}"
    topics = [big, dlq_topic(big), plain, dlq_topic(plain)]
    created = await create_topics(
        options,
        partitions=TEST_PARTITIONS,
        replication_factor=1,
        retention_ms=604_800_000,
        max_message_bytes=limit,
        topics=topics,
    )
    assert created == [dlq_topic(big), plain, dlq_topic(plain)]
    configs = await topic_configs(options, topics)
    assert configs[dlq_topic(big)][MAX_MESSAGE_BYTES_CONFIG] == str(
        5 * 1024 * 1024 + DLQ_HEADROOM_BYTES
    )
    assert configs[dlq_topic(plain)][MAX_MESSAGE_BYTES_CONFIG] == str(limit + DLQ_HEADROOM_BYTES)
    assert configs[dlq_topic(plain)]["retention.ms"] == "604800000"
    # Verification of existing topics: a larger setting than they were sized for is named.
    assert await undersized_dlq_topics(options, max_message_bytes=limit, topics=topics) == {}
    short = await undersized_dlq_topics(options, max_message_bytes=8 * 1024 * 1024, topics=topics)
    needed = 8 * 1024 * 1024 + DLQ_HEADROOM_BYTES
    assert short == {
        dlq_topic(big): (5 * 1024 * 1024 + DLQ_HEADROOM_BYTES, needed),
        dlq_topic(plain): (limit + DLQ_HEADROOM_BYTES, needed),
    }
