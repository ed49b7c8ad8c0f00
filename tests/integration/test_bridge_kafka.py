"""The bridge against the real broker and Temporal dev server: starts, duplicates, poison."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bridges.metrics import BridgeMetrics
from contracts import dlq
from contracts.dlq import header_map
from contracts.topics import dlq_topic
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import (
    KAFKA_POLL_S,
    Record,
    lag_is_zero,
    private_topic,
    produce,
    read_all,
    run_count,
    running_bridge,
    workflow_started,
)

pytestmark = pytest.mark.integration


def order(order_id: str) -> bytes:
    return order_message(order_id).encode()


async def test_each_order_starts_one_workflow_and_offsets_are_committed(
    kafka_bootstrap: str, temporal_dev_env: WorkflowEnvironment
) -> None:
    client = temporal_dev_env.client
    topic = await private_topic(kafka_bootstrap)
    ids = [unique("BK") for _ in range(20)]
    # Each order twice: the second is a duplicate, counted, and starts nothing.
    records = [(b"DC-01", order(i), [("correlation-id", f"c-{i}".encode())]) for i in ids]
    await produce(kafka_bootstrap, topic, records + records)

    async with running_bridge(kafka_bootstrap, client, topic, max_in_flight=8) as run:

        async def all_handled() -> bool:
            return run.metrics.count("started") + run.metrics.count("duplicate") == 40

        await eventually(
            all_handled, timeout_s=90, what="40 records handled", interval_s=KAFKA_POLL_S
        )
        await eventually(
            lambda: lag_is_zero(kafka_bootstrap, run.group, topic),
            timeout_s=30,
            what="lag 0",
            interval_s=KAFKA_POLL_S,
        )
        assert run.metrics.count("started") == 20
        assert run.metrics.count("duplicate") == 20
        assert run.metrics.count("dead_lettered") == 0
    for order_id in ids:
        assert await workflow_started(client, order_id)
        assert await run_count(client, order_id) == 1
    description = await client.get_workflow_handle(f"order-{ids[0]}").describe()
    assert description.typed_search_attributes is not None
    assert await read_all(kafka_bootstrap, dlq_topic(topic)) == []


POISON: list[tuple[str, bytes | None, str]] = [
    ("not-json", b"this is not json", "DESERIALIZE"),
    ("json-array", b"[1, 2, 3]", "DESERIALIZE"),
    ("json-null", b"null", "DESERIALIZE"),
    ("empty", b"", "DESERIALIZE"),
    ("too-large", b"{" + b" " * (2 * 1024 * 1024) + b"}", "DESERIALIZE"),
    ("no-order-id", json.dumps({"ShipFromLocationID": "DC-01"}).encode(), "SCHEMA"),
    ("schema-2", json.dumps({"OrderID": "V2-ORDER", "SchemaVersion": "2.0"}).encode(), "SCHEMA"),
    ("invalid-utf8", b'{"OrderID": "\xff\xfe"}', "DESERIALIZE"),
]


async def test_poison_records_go_to_the_dlq_and_good_ones_are_processed(
    kafka_bootstrap: str,
    temporal_dev_env: WorkflowEnvironment,
    order_worker: Worker,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = temporal_dev_env.client
    topic = await private_topic(kafka_bootstrap)
    good = [unique("GOOD") for _ in range(6)]
    records: list[Record] = []
    for index, (name, value, _) in enumerate(POISON):
        records.append((b"DC-01", order(good[index % len(good)]), []))
        records.append((name.encode(), value, [("poison", name.encode())]))
    records += [(b"DC-01", order(i), []) for i in good]
    await produce(kafka_bootstrap, topic, records)

    async with running_bridge(kafka_bootstrap, client, topic) as run:
        await eventually(
            lambda: _count_at_least(run.metrics, len(records)),
            timeout_s=90,
            what="all handled",
            interval_s=KAFKA_POLL_S,
        )
        await eventually(
            lambda: lag_is_zero(kafka_bootstrap, run.group, topic),
            timeout_s=30,
            what="lag 0",
            interval_s=KAFKA_POLL_S,
        )

    async def good_ones_open() -> bool:
        async with session_factory() as session:
            rows = await session.execute(
                text(
                    "SELECT count(*) FROM orders WHERE order_id = ANY(:ids) AND status_code = 1000"
                ),
                {"ids": good},
            )
            return bool(rows.scalar_one() == len(good))

    await eventually(
        good_ones_open, timeout_s=90, what="every good order Open", interval_s=KAFKA_POLL_S
    )

    source = {(r.partition, r.offset): r for r in await read_all(kafka_bootstrap, topic)}
    dead = await read_all(kafka_bootstrap, dlq_topic(topic))
    assert len(dead) == len(POISON)
    by_name = {header_map(list(r.headers))["poison"]: r for r in dead}
    for name, value, stage in POISON:
        record = by_name[name]
        headers = header_map(list(record.headers))
        assert headers[dlq.H_STAGE] == stage, name
        assert record.key == name.encode()
        assert (record.value or b"") == (value or b""), f"{name}: value must be untouched"
        assert headers[dlq.H_ORIGINAL_TOPIC] == topic
        original = source[
            (int(headers[dlq.H_ORIGINAL_PARTITION]), int(headers[dlq.H_ORIGINAL_OFFSET]))
        ]
        assert original.key == name.encode(), f"{name}: coordinates point at the original"
        assert headers[dlq.H_ORIGINAL_TIMESTAMP] == str(original.timestamp)
        for name_ in (dlq.H_ERROR_TYPE, dlq.H_FAILED_AT, dlq.H_CORRELATION_ID, dlq.H_ATTEMPTS):
            assert headers[name_], f"{name}: {name_} is empty"
    assert not await workflow_started(client, "V2-ORDER")


async def _count_at_least(metrics: BridgeMetrics, expected: int) -> bool:
    handled = sum(metrics.count(o) for o in ("started", "duplicate", "dead_lettered"))
    return handled >= expected
