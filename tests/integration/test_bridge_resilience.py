"""The bridge survives a SIGKILL mid-stream and a Temporal outage without losing an order.

* SIGKILL: ``python -m orderflow bridge`` as a subprocess on a private broker (the real topic
  and group names), killed while 1,000 orders flow, then started again.
* Temporal outage: a dev server of our own (fixed port, database file) stopped for 20 s while
  orders keep arriving, then started again on the same port.
"""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bridges.handler import StartOrder
from bridges.metrics import BridgeMetrics
from bridges.starter import start_with_contract_helper
from contracts.topics import BRIDGE_CONSUMER_GROUP, ORDER_CREATE_V1
from orderflow.devstack.broker import start_broker
from orderflow.devstack.net import free_port
from orderflow.devstack.temporal import NAMESPACE, TemporalHandle, start_temporal
from provisioning.search_attributes import register_search_attributes
from provisioning.topics import create_topics
from tests.fixtures.kafka import TEST_PARTITIONS, kafka_test_options
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique
from tests.helpers.processes import OrderflowProcess
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import (
    KAFKA_POLL_S,
    Record,
    lag,
    lag_is_zero,
    private_topic,
    produce,
    running_bridge,
    workflow_started,
)

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


def orders(prefix: str, count: int) -> tuple[list[str], list[Record]]:
    ids = [f"{prefix}-{n:04d}" for n in range(count)]
    records: list[Record] = []
    for n, order_id in enumerate(ids):
        location = f"DC-{n % 7:02d}"  # spread over the partitions
        records.append((location.encode(), order_message(order_id, location=location).encode(), []))
    return ids, records


# --------------------------------------------------------------------------- SIGKILL


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[str]:
    """A broker of this test alone, so the subprocess can use the real topic and group."""
    broker = start_broker(host="127.0.0.1", port=free_port(), log_path=tmp_path / "broker.log")
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


async def count_orders(sessions: Sessions, prefix: str, status: int | None = None) -> int:
    query = "SELECT count(*) FROM orders WHERE order_id LIKE :pattern"
    if status is not None:
        query += f" AND status_code = {int(status)}"
    async with sessions() as session:
        return int((await session.execute(text(query), {"pattern": f"{prefix}-%"})).scalar_one())


async def runs_per_order(client: Client, prefix: str) -> dict[str, int]:
    runs: dict[str, int] = {}
    async for execution in client.list_workflows(f"WorkflowId STARTS_WITH 'order-{prefix}-'"):
        runs[execution.id] = runs.get(execution.id, 0) + 1
    return runs


async def test_sigkill_mid_stream_then_restart_loses_and_doubles_nothing(
    private_broker: str,
    temporal_address: str,
    temporal_dev_env: WorkflowEnvironment,
    order_worker: Worker,
    session_factory: Sessions,
    tmp_path: Path,
) -> None:
    await create_topics(
        kafka_test_options(private_broker),
        partitions=TEST_PARTITIONS,
        replication_factor=1,
        retention_ms=604_800_000,
    )
    prefix = unique("KILL")
    _ids, records = orders(prefix, 1000)
    await produce(private_broker, ORDER_CREATE_V1, records)
    env = {
        **os.environ,
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": private_broker,
        "ORDERFLOW_TEMPORAL__ADDRESS": temporal_address,
        # The session's clients and workers use the plain converter (the codec has its own tests).
        "ORDERFLOW_CODEC__ENABLED": "false",
        "ORDERFLOW_BRIDGE__BACKOFF_MAX_S": "2",
        "ORDERFLOW_TELEMETRY__LOG_FORMAT": "json",
    }
    first = OrderflowProcess("bridge", env=env, log_path=tmp_path / "bridge-1.log")
    second = OrderflowProcess("bridge", env=env, log_path=tmp_path / "bridge-2.log")
    try:
        await first.start()

        async def some_open() -> bool:
            return await count_orders(session_factory, prefix) >= 150

        await eventually(
            some_open, timeout_s=120, interval_s=0.5, what="150 orders before the kill"
        )
        first.signal(signal.SIGKILL)
        assert await first.wait(30) == -signal.SIGKILL
        killed_at = await count_orders(session_factory, prefix)
        assert killed_at < 1000, "the kill came too late to prove anything"

        await second.start()

        async def all_open() -> bool:
            return await count_orders(session_factory, prefix, status=1000) == 1000

        await eventually(all_open, timeout_s=300, interval_s=1.0, what="all 1,000 orders Open")
        await eventually(
            lambda: lag_is_zero(private_broker, BRIDGE_CONSUMER_GROUP, ORDER_CREATE_V1),
            timeout_s=30,
            what="lag 0",
            interval_s=KAFKA_POLL_S,
        )
        second.signal(signal.SIGTERM)
        assert await second.wait(60) == 0, second.log_text()[-3000:]
    finally:
        await first.ensure_stopped()
        await second.ensure_stopped()

    runs = await runs_per_order(temporal_dev_env.client, prefix)
    assert len(runs) == 1000
    assert set(runs.values()) == {1}, "an order got a second workflow run"
    assert await count_orders(session_factory, prefix) == 1000
    assert '"bridge.stopped"' in second.log_text()


# --------------------------------------------------------------------------- Temporal outage


def start_failures(metrics: BridgeMetrics) -> float:
    value = metrics.registry.get_sample_value(
        "orderflow_bridge_transient_failures_total", {"operation": "start"}
    )
    return value or 0.0


class StartCalls:
    """The production start, counted: how many calls run at once, and how many were made."""

    def __init__(self) -> None:
        self.active = 0
        self.most_at_once = 0
        self.calls = 0

    def restart_count(self) -> None:
        self.most_at_once = self.active
        self.calls = 0

    async def __call__(self, client: Client, request: StartOrder) -> object:
        self.active += 1
        self.calls += 1
        self.most_at_once = max(self.most_at_once, self.active)
        try:
            return await start_with_contract_helper(client, request)
        finally:
            self.active -= 1


@pytest_asyncio.fixture
async def own_temporal(tmp_path: Path) -> AsyncIterator[TemporalHandle]:
    """A dev server of this test on a fixed port, with a database file so it can restart, and
    Orderflow's search attributes registered (they survive the restart in that file)."""
    handle = start_temporal(
        host="127.0.0.1",
        port=free_port(),
        ui_port=None,
        db_file=tmp_path / "temporal.db",
        log_path=tmp_path / "temporal.log",
    )
    try:
        client = await Client.connect(handle.address, namespace=NAMESPACE)
        await register_search_attributes(client)
        yield handle
    finally:
        handle.stop()


async def test_temporal_down_nothing_committed_one_prober_then_everything_started(
    kafka_bootstrap: str, own_temporal: TemporalHandle, tmp_path: Path
) -> None:
    """While Temporal is down: nothing produced meanwhile is committed, fetching is paused, and
    once the starts that were in flight have failed, exactly one record probes at a time (the
    others wait for the circuit) — asserted as behaviour, not as a rate, so a slow machine
    passes too. When Temporal returns, everything is started exactly once."""
    client = await Client.connect(
        own_temporal.address, namespace=NAMESPACE, data_converter=pydantic_data_converter
    )
    # A bare dev server (what `orderflow setup` would register is missing); kept across the
    # restart below by its database file.
    await register_search_attributes(client)
    topic = await private_topic(kafka_bootstrap)
    prefix = unique("DOWN")
    ids, records = orders(prefix, 120)
    before, during = records[:40], records[40:]
    starts = StartCalls()

    async with running_bridge(
        kafka_bootstrap, client, topic, start=starts, backoff_max_s=2.0
    ) as run:
        await produce(kafka_bootstrap, topic, before)
        await eventually(
            lambda: lag_is_zero(kafka_bootstrap, run.group, topic),
            timeout_s=60,
            what="first 40",
            interval_s=KAFKA_POLL_S,
        )

        own_temporal.stop()
        await produce(kafka_bootstrap, topic, during)

        async def paused_with_the_first_wave_failed() -> None:
            assert run.metrics.registry.get_sample_value("orderflow_bridge_paused") == 1
            assert start_failures(run.metrics) >= 1
            assert starts.active <= 1  # the starts in flight at the outage have all failed

        await eventually(paused_with_the_first_wave_failed, timeout_s=120, what="circuit open")
        starts.restart_count()

        async def probed_three_times_without_committing() -> None:
            # Nothing produced during the outage may be committed while Temporal is away.
            assert await lag(kafka_bootstrap, run.group, topic) == len(during)
            assert starts.calls >= 3

        await eventually(
            probed_three_times_without_committing,
            timeout_s=120,
            interval_s=KAFKA_POLL_S,
            what="three probes while Temporal is down",
        )
        # One prober with back-off while the others wait: never a storm of attempts.
        assert starts.most_at_once == 1
        assert run.metrics.registry.get_sample_value("orderflow_bridge_paused") == 1

        restarted = start_temporal(
            host=own_temporal.host,
            port=own_temporal.port,
            ui_port=None,
            db_file=tmp_path / "temporal.db",
            log_path=tmp_path / "temporal-2.log",
        )
        own_temporal.process = restarted.process  # the fixture stops the new one
        await eventually(
            lambda: lag_is_zero(kafka_bootstrap, run.group, topic),
            timeout_s=120,
            interval_s=0.5,
            what="everything committed after Temporal returned",
        )
        # A start whose answer was lost in the outage comes back as a duplicate on retry.
        assert run.metrics.count("started") + run.metrics.count("duplicate") == 120
        assert run.metrics.count("started") >= 119
        assert run.metrics.registry.get_sample_value("orderflow_bridge_paused") == 0
    for order_id in ids:
        assert await workflow_started(client, order_id), order_id
