"""Validation failures land in the DLQ; ``orderflow dlq list`` shows them; a corrected one,
re-driven, becomes an Open order — and a second re-drive run finds nothing left to do."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bridges.redrive import RedriveFilter, redrive_dead_letters, redrive_group
from config.kafka import consumer_options, producer_options
from config.settings import KafkaSettings
from contracts import dlq
from contracts.dlq import header_map
from contracts.ids import workflow_id
from contracts.topics import ORDER_VALIDATION_V1, dlq_topic
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import (
    KAFKA_POLL_S,
    Record,
    private_topic,
    produce,
    read_all,
    running_bridge,
)

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


def invalid_orders(missing_location: str, zero_quantity: str) -> list[Record]:
    no_location = json.loads(order_message(missing_location))
    del no_location["ShipFromLocationID"]
    for line in no_location["OrderLines"]:
        del line["ShipFromLocationID"]
    zero = json.loads(order_message(zero_quantity))
    zero["OrderLines"][0]["Quantity"] = "0"
    return [
        (b"NO-LOCATION", json.dumps(no_location).encode(), [("correlation-id", b"corr-fix-me")]),
        (b"DC-01", json.dumps(zero).encode(), []),
    ]


async def orderflow_cli(bootstrap: str, *args: str) -> str:
    """Run ``python -m orderflow ARGS`` against the session broker; return its stdout."""
    env = {**os.environ, "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": bootstrap}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orderflow",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def _status(sessions: Sessions, order_id: str) -> int | None:
    async with sessions() as session:
        row = await session.execute(
            text("SELECT status_code FROM orders WHERE order_id = :id"), {"id": order_id}
        )
        return row.scalar_one_or_none()


async def test_validation_failure_is_dead_lettered_then_corrected_and_redriven(
    kafka_bootstrap: str,
    temporal_dev_env: WorkflowEnvironment,
    order_worker: Worker,
    session_factory: Sessions,
) -> None:
    client = temporal_dev_env.client
    topic = await private_topic(kafka_bootstrap)
    missing, zero = unique("NOLOC"), unique("ZERO")
    await produce(kafka_bootstrap, topic, invalid_orders(missing, zero))
    dead_topic = dlq_topic(topic)

    async with running_bridge(kafka_bootstrap, client, topic) as run:
        # Both start a workflow (the bridge does not validate), which fails on validation.
        async def both_failed() -> bool:
            for order_id in (missing, zero):
                try:
                    info = await client.get_workflow_handle(workflow_id(order_id)).describe()
                except Exception:
                    return False
                if info.status != WorkflowExecutionStatus.FAILED:
                    return False
            return True

        await eventually(
            both_failed, timeout_s=90, what="both workflows failed", interval_s=KAFKA_POLL_S
        )
        assert run.metrics.count("started") == 2

        async def dead_lettered() -> bool:
            return len(await read_all(kafka_bootstrap, dead_topic)) == 2

        await eventually(dead_lettered, timeout_s=30, what="2 DLQ records", interval_s=KAFKA_POLL_S)
        letters = {r.key: r for r in await read_all(kafka_bootstrap, dead_topic)}
        for key in (b"NO-LOCATION", b"DC-01"):
            headers = header_map(list(letters[key].headers))
            assert headers[dlq.H_STAGE] == "VALIDATE"
            assert headers[dlq.H_ORIGINAL_TOPIC] == topic
        assert header_map(list(letters[b"NO-LOCATION"].headers))[dlq.H_CORRELATION_ID] == (
            "corr-fix-me"
        )
        validations = [
            json.loads(r.value or b"null")
            for r in await read_all(kafka_bootstrap, ORDER_VALIDATION_V1)
        ]
        codes = {
            v["OrderID"]: {e["Code"] for e in v["Errors"]}
            for v in validations
            if isinstance(v, dict) and v.get("OrderID") in (missing, zero)
        }
        assert "ERR_MISSING_SHIP_FROM_LOCATION" in codes[missing]
        assert "ERR_NON_POSITIVE_QUANTITY" in codes[zero]
        assert not [
            v
            for v in validations
            if isinstance(v, dict) and v.get("OrderID") == missing and v["Valid"]
        ]

        # The CLI lists them, headers included.
        output = await orderflow_cli(kafka_bootstrap, "dlq", "list", "--topic", dead_topic)
        lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
        assert {line["order_id"] for line in lines} == {missing, zero}
        assert {line["headers"][dlq.H_STAGE] for line in lines} == {"VALIDATE"}

        # Correct the order and re-drive it (the other one stays in the DLQ, passed over).
        corrected = order_message(missing, location="DC-01").encode()
        settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
        group = f"orderflow-dlq-redrive-{uuid.uuid4().hex[:6]}"
        fix_one = RedriveFilter(stage="VALIDATE", order_id=missing)
        consumer_opts = consumer_options(settings, group_id=redrive_group(group, fix_one))
        producer_opts = producer_options(settings)

        async def redrive(dry_run: bool) -> list[str]:
            report = await redrive_dead_letters(
                consumer_options=consumer_opts,
                producer_options=producer_opts,
                topics=[dead_topic],
                selection=fix_one,
                dry_run=dry_run,
                replacement_value=corrected,
            )
            return [e.order_id or "" for e in report.redriven]

        assert await redrive(dry_run=True) == [missing]
        assert await redrive(dry_run=False) == [missing]
        assert await redrive(dry_run=False) == []  # the cursor moved: never twice
        # The filtered run hid nothing: an unfiltered selection still offers every record.
        everything = await redrive_dead_letters(
            consumer_options={**consumer_opts, "group_id": redrive_group(group, RedriveFilter())},
            producer_options=producer_opts,
            topics=[dead_topic],
            selection=RedriveFilter(),
            dry_run=True,
        )
        assert sorted(e.order_id or "" for e in everything.redriven) == sorted([missing, zero])

        async def open_now() -> bool:
            return await _status(session_factory, missing) == 1000

        await eventually(
            open_now, timeout_s=90, what="the corrected order to be Open", interval_s=KAFKA_POLL_S
        )
        assert await _status(session_factory, zero) is None

    republished = [r for r in await read_all(kafka_bootstrap, topic) if r.key == b"NO-LOCATION"]
    assert len(republished) == 2
    headers = header_map(list(republished[-1].headers))
    assert republished[-1].value == corrected
    assert headers[dlq.H_REDRIVE_COUNT] == "1"
    assert headers[dlq.H_CORRELATION_ID] == "corr-fix-me"
    assert dlq.H_STAGE not in headers
    description = await client.get_workflow_handle(workflow_id(missing)).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING  # the new run, Open
