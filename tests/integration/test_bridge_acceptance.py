"""Issue 5 acceptance: orders through the real bridge, worker, database and broker.

Each test has its own source topic (and DLQ); events go to the shared event topics and are
told apart by order ID.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.ids import workflow_id
from contracts.topics import ORDER_STATUS_V1, ORDER_VALIDATION_V1, dlq_topic
from contracts.workflow_io import CHANGE_STATUS_UPDATE, ChangeStatusRequest, ChangeStatusResult
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import (
    KAFKA_POLL_S,
    lag_is_zero,
    private_topic,
    produce,
    read_all,
    run_count,
    running_bridge,
)

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


async def statuses(sessions: Sessions, order_ids: Iterable[str]) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT order_id, status_code FROM orders WHERE order_id = ANY(:ids)"),
            {"ids": list(order_ids)},
        )
        return {order_id: status for order_id, status in rows.all()}


async def all_in_status(sessions: Sessions, order_ids: list[str], status: int) -> bool:
    found = await statuses(sessions, order_ids)
    return len(found) == len(order_ids) and set(found.values()) == {status}


async def events_for(bootstrap: str, topic: str, order_ids: set[str]) -> list[dict[str, object]]:
    events = [json.loads(r.value or b"null") for r in await read_all(bootstrap, topic)]
    return [e for e in events if isinstance(e, dict) and e.get("OrderID") in order_ids]


def record(order_id: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return (
        b"DC-01",
        order_message(order_id).encode(),
        [("correlation-id", f"c-{order_id}".encode())],
    )


async def test_500_valid_orders_become_open_with_events_and_no_lag(
    kafka_bootstrap: str,
    temporal_dev_env: WorkflowEnvironment,
    order_worker: Worker,
    session_factory: Sessions,
) -> None:
    topic = await private_topic(kafka_bootstrap)
    ids = [unique("ACC") for _ in range(500)]
    await produce(kafka_bootstrap, topic, [record(i) for i in ids])

    async with running_bridge(kafka_bootstrap, temporal_dev_env.client, topic) as run:
        await eventually(
            lambda: all_in_status(session_factory, ids, 1000),
            timeout_s=240,
            interval_s=1.0,
            what="500 orders in status 1000",
        )
        await eventually(
            lambda: lag_is_zero(kafka_bootstrap, run.group, topic),
            timeout_s=30,
            what="lag 0",
            interval_s=KAFKA_POLL_S,
        )
        assert run.metrics.count("started") == 500
        assert run.metrics.count("dead_lettered") == 0

    wanted = set(ids)

    async def all_events_published() -> bool:
        status = await events_for(kafka_bootstrap, ORDER_STATUS_V1, wanted)
        return len({e["OrderID"] for e in status}) == 500

    await eventually(all_events_published, timeout_s=60, interval_s=1.0, what="500 status events")
    validation = await events_for(kafka_bootstrap, ORDER_VALIDATION_V1, wanted)
    assert {e["OrderID"] for e in validation if e["Valid"] is True} == wanted
    assert not [e for e in validation if e["Valid"] is not True]
    status_events = await events_for(kafka_bootstrap, ORDER_STATUS_V1, wanted)
    assert {e["ToStatus"] for e in status_events} == {1000}
    assert {e["CorrelationID"] for e in status_events} == {f"c-{i}" for i in ids}
    assert await read_all(kafka_bootstrap, dlq_topic(topic)) == []


async def test_duplicates_never_make_a_second_workflow_or_order(
    kafka_bootstrap: str,
    temporal_dev_env: WorkflowEnvironment,
    order_worker: Worker,
    session_factory: Sessions,
) -> None:
    client: Client = temporal_dev_env.client
    topic = await private_topic(kafka_bootstrap)
    ids = [unique("DUP") for _ in range(15)]
    await produce(kafka_bootstrap, topic, [record(i) for i in ids] * 2)

    async with running_bridge(kafka_bootstrap, client, topic) as run:
        await eventually(
            lambda: all_in_status(session_factory, ids, 1000),
            timeout_s=120,
            what="all Open",
            interval_s=KAFKA_POLL_S,
        )
        await eventually(
            lambda: _handled(run.metrics, 30),
            timeout_s=60,
            what="both copies handled",
            interval_s=KAFKA_POLL_S,
        )
        # Cancel each order: 9000 is terminal, so its workflow completes.
        for order_id in ids:
            handle = client.get_workflow_handle(workflow_id(order_id))
            await handle.execute_update(
                CHANGE_STATUS_UPDATE,
                ChangeStatusRequest(to_status=9000, reason="test", source="test"),
                result_type=ChangeStatusResult,
            )
            await handle.result()
        # Once more after completion: still a duplicate.
        await produce(kafka_bootstrap, topic, [record(i) for i in ids])
        await eventually(
            lambda: _handled(run.metrics, 45),
            timeout_s=60,
            what="third copies",
            interval_s=KAFKA_POLL_S,
        )
        assert run.metrics.count("started") == 15
        assert run.metrics.count("duplicate") == 30

    for order_id in ids:
        assert await run_count(client, order_id) == 1
    async with session_factory() as session:
        rows = await session.execute(
            text("SELECT count(*) FROM orders WHERE order_id = ANY(:ids)"), {"ids": ids}
        )
        assert rows.scalar_one() == 15
    assert set((await statuses(session_factory, ids)).values()) == {9000}


async def _handled(metrics: object, expected: int) -> bool:
    from bridges.metrics import BridgeMetrics

    assert isinstance(metrics, BridgeMetrics)
    return metrics.count("started") + metrics.count("duplicate") >= expected
