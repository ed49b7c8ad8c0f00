"""OrderWorkflow end to end on the real dev server, PostgreSQL and broker: the worker of
``tests.fixtures.worker`` (wired like ``orderflow worker``) and the ``orderflow worker`` process
itself."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.dlq import DLQ_HEADER_NAMES, header_map
from contracts.errors import ORDER_VALIDATION_FAILED
from contracts.topics import ORDER_CREATE_V1, ORDER_STATUS_V1, ORDER_VALIDATION_V1, dlq_topic
from contracts.workflow_io import ChangeStatusRequest, ChangeStatusResult, OrderStatusView
from db.repository import get_order
from tests.fixtures.kafka import kafka_test_options
from tests.fixtures.worker import order_input, order_message
from tests.helpers.ids import unique, unique_order_id
from tests.helpers.processes import orderflow_process
from tests.helpers.starts import start_order
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.integration


async def find_records(
    bootstrap: str, topic: str, match: Callable[[Any], bool], *, count: int, timeout_s: float = 30
) -> list[Any]:
    """The first ``count`` records of ``topic`` (all partitions, from the start) that match."""
    # No group: every partition is assigned, read from the earliest offset.
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_test_options(bootstrap),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        found: list[Any] = []
        async with asyncio.timeout(timeout_s):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(record for record in records if match(record))
        return found[:count]
    finally:
        await consumer.stop()


def _about(order_id: str) -> Callable[[Any], bool]:
    return lambda record: json.loads(record.value).get("OrderID") == order_id


async def test_valid_order_is_stored_published_and_moves_to_a_terminal_status(
    order_worker: Worker,
    temporal_dev_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    client = temporal_dev_env.client
    order_id = unique_order_id("E2E")
    handle = await start_order(client, order_input(order_id))

    async def stored_open() -> None:
        async with session_factory() as session:
            order = await get_order(session, order_id)
        assert order is not None
        assert order.status_code == 1000

    await eventually(stored_open)
    (validation,) = await find_records(
        kafka_bootstrap, ORDER_VALIDATION_V1, _about(order_id), count=1
    )
    assert json.loads(validation.value)["Valid"] is True
    assert validation.key == b"DC-01"
    (opened,) = await find_records(kafka_bootstrap, ORDER_STATUS_V1, _about(order_id), count=1)
    assert json.loads(opened.value)["EventID"] == f"{order_id}:1000:1"
    assert header_map(opened.headers)["correlation-id"] == f"corr-{order_id}"

    result = await handle.execute_update(
        "change_status",
        ChangeStatusRequest(to_status=9000, reason="customer canceled"),
        result_type=ChangeStatusResult,
    )
    assert result.to_status == 9000
    final = await asyncio.wait_for(handle.result(), timeout=60)
    assert final == OrderStatusView(order_id=order_id, status_code=9000, status_name="Canceled")
    async with session_factory() as session:
        order = await get_order(session, order_id)
    assert order is not None
    assert [(h.from_status, h.to_status) for h in order.history] == [(None, 1000), (1000, 9000)]
    events = await find_records(kafka_bootstrap, ORDER_STATUS_V1, _about(order_id), count=2)
    assert [json.loads(e.value)["EventID"] for e in events] == [
        f"{order_id}:1000:1",
        f"{order_id}:9000:2",
    ]


async def test_invalid_order_is_rejected_dead_lettered_and_not_stored(
    order_worker: Worker,
    temporal_dev_env: WorkflowEnvironment,
    session_factory: async_sessionmaker[AsyncSession],
    kafka_bootstrap: str,
) -> None:
    client = temporal_dev_env.client
    order_id = unique_order_id("E2E")
    raw = order_message(order_id, OrderLines=[{"OrderLineID": "1", "ItemID": "X", "Quantity": 0}])
    handle = await start_order(client, order_input(order_id, raw, offset=1234))

    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=60)

    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == ORDER_VALIDATION_FAILED
    async with session_factory() as session:
        assert await get_order(session, order_id) is None
    (validation,) = await find_records(
        kafka_bootstrap, ORDER_VALIDATION_V1, _about(order_id), count=1
    )
    result = json.loads(validation.value)
    assert result["Valid"] is False
    assert {e["Code"] for e in result["Errors"]} >= {"ERR_NON_POSITIVE_QUANTITY"}
    (letter,) = await find_records(
        kafka_bootstrap,
        dlq_topic(ORDER_CREATE_V1),
        lambda r: header_map(r.headers).get("correlation-id") == f"corr-{order_id}",
        count=1,
    )
    assert letter.value == raw.encode("utf-8")
    assert letter.key == b"DC-01"
    headers = header_map(letter.headers)
    assert set(DLQ_HEADER_NAMES) <= headers.keys()
    assert headers["dlq.stage"] == "VALIDATE"
    assert headers["dlq.error.type"] == ORDER_VALIDATION_FAILED
    assert "ERR_NON_POSITIVE_QUANTITY" in headers["dlq.error.message"]
    assert headers["dlq.original.offset"] == "1234"
    assert headers["dlq.original.topic"] == ORDER_CREATE_V1


async def test_worker_process_runs_orders_and_exits_0_on_sigterm(
    temporal_dev_env: WorkflowEnvironment,
    temporal_address: str,
    database_url: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    task_queue = unique("process")
    env = {
        **os.environ,
        "ORDERFLOW_TEMPORAL__ADDRESS": temporal_address,
        # The session's clients and workers use the plain converter (the codec has its own tests).
        "ORDERFLOW_CODEC__ENABLED": "false",
        "ORDERFLOW_TEMPORAL__TASK_QUEUE": task_queue,
        "ORDERFLOW_DATABASE__URL": database_url,
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ORDERFLOW_WORKER__GRACEFUL_SHUTDOWN_S": "5",
    }
    log_path = tmp_path / "worker.log"
    async with orderflow_process("worker", env=env, log_path=log_path) as process:
        client: Client = temporal_dev_env.client
        order_id = unique_order_id("PROC")
        handle = await start_order(client, order_input(order_id), task_queue=task_queue)

        async def is_open() -> None:
            view = await handle.query("status", result_type=OrderStatusView)
            assert view.status_code == 1000

        await eventually(is_open, timeout_s=90)
    # Leaving the block sent SIGTERM and checked exit code 0.
    output = process.log_text()
    assert "worker stopped" in output
    await handle.terminate("test done")
