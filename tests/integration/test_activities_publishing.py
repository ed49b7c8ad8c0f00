"""Publishing activities against the session's real broker: events keyed by location with a
deterministic EventID (a repeat is a recognisable duplicate), dead letters byte-exact with
every DLQ header."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from temporalio.testing import ActivityEnvironment

from activities.models import PublishReceipt
from activities.publishing import H_EVENT_ID, PublishingActivities
from config.kafka import producer_options
from config.settings import KafkaSettings
from contracts.dlq import DLQ_HEADER_NAMES, header_map
from contracts.errors import ErrorCode, ValidationIssue
from contracts.events import OrderStatusChangedV1, OrderValidationV1
from contracts.topics import ORDER_CREATE_V1, ORDER_STATUS_V1, ORDER_VALIDATION_V1, dlq_topic
from contracts.workflow_io import DeadLetter, KafkaOrigin
from tests.fixtures.kafka import kafka_test_options
from tests.helpers.ids import unique_order_id

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def publishing(kafka_bootstrap: str) -> AsyncIterator[PublishingActivities]:
    producer = AIOKafkaProducer(
        **producer_options(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    )
    await producer.start()
    try:
        yield PublishingActivities(producer)
    finally:
        await producer.stop()


async def read_records(bootstrap: str, receipts: list[PublishReceipt]) -> list[Any]:
    """The records stored at the receipts' coordinates, in receipt order."""
    consumer = AIOKafkaConsumer(**kafka_test_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        found: dict[tuple[str, int, int], Any] = {}
        partitions = {TopicPartition(r.topic, r.partition) for r in receipts}
        consumer.assign(list(partitions))
        for tp in partitions:
            consumer.seek(tp, min(r.offset for r in receipts if r.partition == tp.partition))
        wanted = {(r.topic, r.partition, r.offset) for r in receipts}
        async with asyncio.timeout(30):
            while not wanted <= found.keys():
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        found[(record.topic, record.partition, record.offset)] = record
        return [found[(r.topic, r.partition, r.offset)] for r in receipts]
    finally:
        await consumer.stop()


def _environment(order_id: str) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id=f"order-{order_id}")
    return env


async def test_status_event_published_twice_carries_one_event_id(
    publishing: PublishingActivities, kafka_bootstrap: str
) -> None:
    order_id = unique_order_id("PUB")
    event = OrderStatusChangedV1(
        EventID=f"{order_id}:1000:1",
        OrderID=order_id,
        ShipFromLocationID="DC-07",
        FromStatus=None,
        ToStatus=1000,
        StatusName="Open",
        OccurredAt=datetime(2025, 1, 31, 10, 0, tzinfo=UTC),
        CorrelationID="corr-pub",
    )
    env = _environment(order_id)

    receipts = [await env.run(publishing.publish_status_event, event) for _ in range(2)]

    assert {r.topic for r in receipts} == {ORDER_STATUS_V1}
    assert receipts[0].partition == receipts[1].partition  # same key, same partition
    records = await read_records(kafka_bootstrap, receipts)
    for record in records:
        assert record.key == b"DC-07"
        assert OrderStatusChangedV1.model_validate_json(record.value) == event
        headers = header_map(record.headers)
        assert headers["correlation-id"] == "corr-pub"
        assert headers[H_EVENT_ID] == f"{order_id}:1000:1"


async def test_invalid_result_without_location_is_keyed_by_order(
    publishing: PublishingActivities, kafka_bootstrap: str
) -> None:
    order_id = unique_order_id("PUB")
    event = OrderValidationV1(
        EventID=f"{order_id}:validation:1",
        OrderID=order_id,
        ShipFromLocationID=None,
        Valid=False,
        Errors=[
            ValidationIssue(
                Code=ErrorCode.MISSING_SHIP_FROM_LOCATION,
                Field="ShipFromLocationID",
                Message="ShipFromLocationID: Field required",
            )
        ],
        ValidatedAt=datetime(2025, 1, 31, 10, 0, tzinfo=UTC),
        CorrelationID="corr-val",
    )

    receipt = await _environment(order_id).run(publishing.publish_validation_result, event)

    assert receipt.topic == ORDER_VALIDATION_V1
    (record,) = await read_records(kafka_bootstrap, [receipt])
    assert record.key == order_id.encode()
    assert OrderValidationV1.model_validate_json(record.value).Errors == event.Errors


async def test_dead_letter_keeps_key_and_bytes_and_has_every_header(
    publishing: PublishingActivities, kafka_bootstrap: str
) -> None:
    order_id = unique_order_id("PUB")
    # Non-ASCII and odd spacing: the DLQ must carry the original bytes, not a re-encoding.
    raw = '{"OrderID":  "' + order_id + '", "Note": "caf\u00e9 \u2615", "OrderLines": []}'
    letter = DeadLetter(
        stage="VALIDATE",
        error_type="OrderValidationFailed",
        error_message="ERR_NO_ORDER_LINES at OrderLines",
        raw_message=raw,
        correlation_id="corr-dlq",
        origin=KafkaOrigin(
            topic=ORDER_CREATE_V1,
            partition=2,
            offset=77,
            timestamp_ms=1_700_000_000_123,
            key=b"\x00k",
            # The producer's own headers (one named like a DLQ header, which this failure owns).
            headers=(("app-trace", b"\xff\x01"), ("dlq.stage", b"SCHEMA")),
        ),
        attempts=1,
        failed_at=datetime(2025, 1, 31, 10, 0, tzinfo=UTC),
    )

    receipt = await _environment(order_id).run(publishing.write_dead_letter, letter)

    assert receipt.topic == dlq_topic(ORDER_CREATE_V1)
    (record,) = await read_records(kafka_bootstrap, [receipt])
    assert record.key == b"\x00k"
    assert record.value == raw.encode("utf-8")
    headers = header_map(record.headers)
    assert set(DLQ_HEADER_NAMES) <= headers.keys()
    assert headers["dlq.stage"] == "VALIDATE"
    assert headers["dlq.error.type"] == "OrderValidationFailed"
    assert headers["dlq.original.topic"] == ORDER_CREATE_V1
    assert (headers["dlq.original.partition"], headers["dlq.original.offset"]) == ("2", "77")
    assert headers["dlq.original.timestamp"] == "1700000000123"
    assert headers["dlq.failed_at"] == "2025-01-31T10:00:00+00:00"
    assert headers["dlq.attempts"] == "1"
    assert headers["correlation-id"] == "corr-dlq"
    assert record.headers[0] == ("app-trace", b"\xff\x01")
    assert [name for name, _ in record.headers].count("dlq.stage") == 1
