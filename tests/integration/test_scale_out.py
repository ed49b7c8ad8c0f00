"""Scale-out: two bridges and two workers, as separate processes, share the work; no order is
started twice or lost, also when one bridge and one worker are SIGKILLed mid-run.

``python -m orderflow bridge`` x2 and ``python -m orderflow worker`` x2 run against the
session's Temporal dev server (in a namespace of this test, so the in-process session worker
polls none of its tasks) and PostgreSQL, and a broker of this test (so the bridges use the real
topic and group names). ``orderflow loadtest``'s engine sends orders at a fixed rate; once a
tenth of them are Open, one bridge and one worker are killed. The survivors take over: the
bridge's partitions after the group notices the dead member, the worker's workflow tasks after
their timeouts. Asserted through every store:

* PostgreSQL: one row per order, every one Open;
* Temporal: one run per workflow ID (a record delivered again after the kill hits the
  workflow-ID conflict, it does not start a second order);
* ``order.status.v1``: one Open ``EventID`` per order (the same event published twice by a
  repeated workflow task is fine; a different one would be a second order);
* and that the work was shared: each bridge started workflows and each worker opened orders.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError

from contracts.ids import workflow_id
from contracts.topics import ORDER_STATUS_V1
from loadgen.orders import OrderMix
from loadgen.run import LoadPlan, Progress, run_load
from orderflow.devstack.net import free_port
from orderflow.devstack.temporal import SEARCH_ATTRIBUTES
from provisioning.topics import create_topics
from tests.fixtures.kafka import kafka_test_options
from tests.helpers.waiting import eventually
from tests.integration import test_bridge_resilience
from tests.integration.bridge_support import read_all
from tests.integration.test_loadtest import kafka_for

pytestmark = pytest.mark.integration

ORDERS = 300
RATE = 20.0
PARTITIONS = 6
REPO_ROOT = Path(__file__).resolve().parents[2]
Sessions = async_sessionmaker[AsyncSession]
# A broker of this test alone, so the bridges use the real topic and group names.
private_broker = test_bridge_resilience.private_broker


async def namespace_client(address: str, namespace: str) -> Client:
    """Register ``namespace`` (with Orderflow's search attributes) and connect to it once the
    server knows it (namespaces propagate to the frontend's cache after a moment)."""
    admin = await Client.connect(address)
    retention = Duration(seconds=24 * 3600)
    await admin.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=retention)
    )
    kinds = {
        "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    }
    await admin.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={name: kinds[kind] for name, kind in SEARCH_ATTRIBUTES},
        )
    )

    async def known() -> bool:
        try:
            await admin.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
        except RPCError:
            return False
        return True

    await eventually(known, timeout_s=60, what=f"namespace {namespace}")
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter
    )


class Component:
    """``python -m orderflow <role>`` with its own probe port and log file."""

    def __init__(self, role: str, number: int, env: dict[str, str], log_dir: Path) -> None:
        self.name = f"{role}-{number}"
        self.role = role
        self.port = free_port()
        self.log = log_dir / f"{self.name}.log"
        group = f"ORDERFLOW_{role.upper()}__"
        self.env = {**env, f"{group}HTTP_HOST": "127.0.0.1", f"{group}HTTP_PORT": str(self.port)}
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "orderflow", self.role,
                cwd=REPO_ROOT, env=self.env, stdout=out, stderr=out,
            )  # fmt: skip

    async def ready(self) -> bool:
        assert self.process is not None
        assert self.process.returncode is None, f"{self.name} exited:\n{self.log_text()[-3000:]}"
        try:
            async with httpx.AsyncClient(timeout=2.0) as http:
                response = await http.get(f"http://127.0.0.1:{self.port}/health/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(self.process.wait(), timeout=30) == -signal.SIGKILL

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def logged(self, event: str) -> int:
        """How many log lines carry ``event`` (JSON logs: the ``event`` field)."""
        return sum(1 for line in self.log_text().splitlines() if f'"event": "{event}"' in line)


@pytest_asyncio.fixture
async def components(
    private_broker: str, temporal_address: str, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Client, list[Component], list[Component]]]:
    """Two workers and two bridges on a namespace of their own, all ready."""
    await create_topics(
        kafka_test_options(private_broker),
        partitions=PARTITIONS,
        replication_factor=1,
        retention_ms=604_800_000,
    )
    namespace = f"scale-{uuid.uuid4().hex[:8]}"
    client = await namespace_client(temporal_address, namespace)
    env = {
        **os.environ,
        "ORDERFLOW_DATABASE__URL": database_url,
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": private_broker,
        "ORDERFLOW_TEMPORAL__ADDRESS": temporal_address,
        "ORDERFLOW_TEMPORAL__NAMESPACE": namespace,
        "ORDERFLOW_TELEMETRY__LOG_FORMAT": "json",
        "ORDERFLOW_BRIDGE__BACKOFF_MAX_S": "2",
        "ORDERFLOW_CODEC__ENABLED": "false",
        # Each bridge logs every start at DEBUG: the test reads those lines.
        "ORDERFLOW_TELEMETRY__LOG_LEVEL": "DEBUG",
    }
    workers = [Component("worker", n, env, tmp_path) for n in (1, 2)]
    bridges = [Component("bridge", n, env, tmp_path) for n in (1, 2)]
    everything = workers + bridges
    try:
        for component in everything:
            await component.start()
        for component in everything:
            await eventually(component.ready, timeout_s=120, what=f"{component.name} ready")
        yield client, workers, bridges
    finally:
        for component in everything:
            await component.stop()


async def stored(sessions: Sessions, run_id: str) -> Counter[int]:
    """Status code -> number of this run's orders in PostgreSQL."""
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT status_code, count(*) FROM orders WHERE order_id LIKE :p GROUP BY 1"),
            {"p": f"LT-{run_id}-%"},
        )
        return Counter({int(status): int(count) for status, count in rows})


async def test_two_bridges_and_two_workers_survive_a_kill_of_one_each(
    components: tuple[Client, list[Component], list[Component]],
    private_broker: str,
    session_factory: Sessions,
) -> None:
    client, workers, bridges = components
    plan = LoadPlan(count=ORDERS, rate=RATE, mix=OrderMix(locations=40), wait_s=240)
    kill_now = asyncio.Event()
    at_kill: list[Progress] = []

    def progress(snapshot: Progress) -> None:
        if not at_kill and snapshot.opened >= ORDERS // 10:
            at_kill.append(snapshot)
            kill_now.set()

    async def kill_one_of_each() -> None:
        await kill_now.wait()
        await asyncio.gather(bridges[0].kill(), workers[0].kill())

    killer = asyncio.create_task(kill_one_of_each())
    summary = await run_load(
        plan, kafka_for(private_broker), on_progress=progress, progress_every_s=0.5
    )
    await asyncio.wait_for(killer, timeout=30)

    assert at_kill, "the run ended before the kill"
    assert at_kill[0].opened < ORDERS, "the kill came too late to prove anything"
    # The loadtest's own accounting: every order Open, none missing, none opened twice.
    assert (summary.opened, summary.missing, summary.opened_twice) == (ORDERS, 0, 0)

    # PostgreSQL: one row per order (the primary key), each Open.
    assert await stored(session_factory, plan.run_id) == Counter({1000: ORDERS})

    # Temporal: one run per workflow ID.
    prefix = workflow_id(f"LT-{plan.run_id}-")
    runs = Counter(
        [e.id async for e in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}'")]
    )
    assert len(runs) == ORDERS
    assert set(runs.values()) == {1}, "an order got a second workflow run"

    # order.status.v1: one Open EventID per order (repeats of the same one are allowed).
    open_ids: dict[str, set[str]] = {}
    for record in await read_all(private_broker, ORDER_STATUS_V1):
        event = json.loads(record.value)
        if event["OrderID"].startswith(f"LT-{plan.run_id}-") and event["ToStatus"] == 1000:
            open_ids.setdefault(event["OrderID"], set()).add(event["EventID"])
    assert len(open_ids) == ORDERS
    assert all(ids == {f"{order}:1000:1"} for order, ids in open_ids.items())

    # The work was shared before the kill, and the survivors finished it.
    for bridge in bridges:
        assert bridge.logged("bridge.workflow_started") > 0, bridge.name
    for worker in workers:
        assert worker.logged("order open") > 0, worker.name
