"""OrderWorkflow throughput: local activities (the chosen design) against three regular ones.

Runs, in one process and against one set of services, N orders per variant with at most C
orders in flight (between the start call and Open), the variants taking turns in rounds, and
prints per variant:

* completed orders/s: orders that reached Open (persisted, both events acknowledged by the
  broker) per second, from the first start call to the last Open event;
* p50 / p99 start-to-Open latency: from the start call to the moment this process consumed the
  order's ``order.status.v1`` Open event;
* state transitions and history events per order (``DescribeWorkflowExecution`` of a sample).

Services: by default it starts its own Temporal dev server (in memory, or ``--temporal-db``),
a tansu broker with the topics, and uses a fresh migrated database on the PostgreSQL at
127.0.0.1:5432 (else an embedded one). ``--use-settings`` uses the configured/local stack
(``ORDERFLOW_*``) instead. Example::

    .venv/bin/python -m benchmarks.workflow_throughput --orders 500 --concurrency 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner

from bridges.handler import StartOrder
from bridges.starter import start_order_workflow
from config.kafka import common_options, producer_options
from config.settings import KafkaSettings, Settings, TelemetrySettings, load_settings
from config.telemetry import configure_logging
from contracts.order_create_v1.envelope import loads_object, read_fields
from contracts.topics import ORDER_STATUS_V1
from contracts.workflow_io import OrderWorkflowInput, OrderWorkflowOptions
from db.engine import create_engine, create_session_factory
from workers.order_worker import order_activities
from workflows.order import OrderWorkflow
from workflows.runner import order_workflow_runner


@dataclass(frozen=True)
class Variant:
    name: str
    local_activities: bool
    runner: Callable[[], WorkflowRunner]


VARIANTS = {
    "regular": Variant("3 regular activities (naive)", False, order_workflow_runner),
    "local": Variant("local activities (chosen)", True, order_workflow_runner),
    "local-unsandboxed": Variant(
        "local activities, no sandbox", True, lambda: UnsandboxedWorkflowRunner()
    ),
}


@dataclass
class Result:
    variant: str
    orders: int
    seconds: float
    latencies_ms: list[float]
    transitions: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)

    def merge(self, other: Result) -> Result:
        return Result(
            variant=self.variant,
            orders=self.orders + other.orders,
            seconds=self.seconds + other.seconds,
            latencies_ms=self.latencies_ms + other.latencies_ms,
            transitions=self.transitions + other.transitions,
            events=self.events + other.events,
        )

    def row(self) -> str:
        lat = sorted(self.latencies_ms)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return (
            f"{self.variant:<30} {self.orders:>6} {self.orders / self.seconds:>9.1f} "
            f"{statistics.median(lat):>8.0f} {p99:>8.0f} "
            f"{statistics.mean(self.transitions):>12.1f} {statistics.mean(self.events):>8.1f}"
        )


HEADER = (
    f"{'variant':<30} {'orders':>6} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'transitions':>12} {'events':>8}"
)


def order_message(order_id: str, n: int) -> str:
    location = f"DC-{n % 12:02d}"
    return json.dumps(
        {
            "OrderID": order_id,
            "ShipFromLocationID": location,
            "OrderLines": [
                {"OrderLineID": "1", "ItemID": "SKU-1", "Quantity": "2", "UnitPrice": "10.50"},
                {"OrderLineID": "2", "ItemID": "SKU-2", "Quantity": "1", "UnitPrice": "5.00"},
            ],
            "OrderSubTotal": "26.00",
            "OrderTotal": "26.00",
        }
    )


class OpenEvents:
    """Consumes ``order.status.v1`` from its end and resolves, per order, when it opened."""

    def __init__(self, bootstrap: str) -> None:
        self._consumer = AIOKafkaConsumer(
            ORDER_STATUS_V1,
            **common_options(KafkaSettings(bootstrap_servers=bootstrap)),
            # Return each Open event at once; the default long poll would add to the latency.
            fetch_max_wait_ms=5,
        )
        self._waiting: dict[str, asyncio.Future[float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._run())

    def expect(self, order_id: str) -> asyncio.Future[float]:
        """A future resolved with ``perf_counter()`` when the order's Open event arrives."""
        return self._waiting.setdefault(order_id, asyncio.get_running_loop().create_future())

    async def _run(self) -> None:
        async for record in self._consumer:
            event = json.loads(record.value)
            if event.get("ToStatus") != 1000:
                continue
            opened = self.expect(event["OrderID"])
            if not opened.done():
                opened.set_result(time.perf_counter())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def run_variant(
    key: str,
    *,
    client: Client,
    activities: list[Any],
    events: OpenEvents,
    orders: int,
    concurrency: int,
    warmup: int,
) -> Result:
    """``orders`` orders with at most ``concurrency`` between their start and their Open."""
    variant = VARIANTS[key]
    run = secrets.token_hex(3)
    task_queue = f"bench-{key}-{run}"
    options = OrderWorkflowOptions(local_activities=variant.local_activities)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderWorkflow],
        activities=activities,
        workflow_runner=variant.runner(),
        max_concurrent_activities=200,
        max_concurrent_local_activities=200,
        max_concurrent_workflow_tasks=200,
    )
    gate = asyncio.Semaphore(concurrency)

    async def one_order(order_id: str, n: int) -> tuple[float, float]:
        async with gate:
            opened = events.expect(order_id)
            started = time.perf_counter()
            order = OrderWorkflowInput(
                order_id=order_id,
                correlation_id=f"bench-{order_id}",
                raw_message=order_message(order_id, n),
                options=options,
            )
            # What the bridge's handler reads from the message before it starts the workflow.
            start = StartOrder(order, read_fields(loads_object(order.raw_message)))
            await start_order_workflow(client, start, task_queue=task_queue)
            return started, await asyncio.wait_for(opened, timeout=300)

    async with worker:
        warm = [f"W-{key}-{run}-{n}" for n in range(warmup)]
        await asyncio.gather(*(one_order(order_id, n) for n, order_id in enumerate(warm)))
        ids = [f"B-{key}-{run}-{n}" for n in range(orders)]
        begin = time.perf_counter()
        times = await asyncio.gather(*(one_order(order_id, n) for n, order_id in enumerate(ids)))
        result = Result(
            variant=variant.name,
            orders=orders,
            seconds=max(opened for _, opened in times) - begin,
            latencies_ms=[(opened - started) * 1000 for started, opened in times],
        )
        for order_id in ids[:: max(1, orders // 25)]:
            info = (
                await client.get_workflow_handle(f"order-{order_id}").describe()
            ).raw_description.workflow_execution_info
            result.transitions.append(info.state_transition_count)
            result.events.append(info.history_length)
    return result


@contextlib.asynccontextmanager
async def services(args: argparse.Namespace) -> AsyncIterator[tuple[Client, str, str]]:
    """(Temporal client, database URL, bootstrap servers), started here unless configured."""
    if args.use_settings:
        from config.database import database_url as configured_url
        from config.kafka import kafka_bootstrap
        from config.settings import DATABASE, KAFKA, TEMPORAL
        from config.temporal import temporal_client

        settings: Settings = load_settings(DATABASE, KAFKA, TEMPORAL)
        yield (
            await temporal_client(settings.temporal, settings.codec),
            configured_url(settings.database),
            kafka_bootstrap(settings.kafka),
        )
        return
    from orderflow.devstack.broker import start_broker
    from orderflow.devstack.net import free_port
    from orderflow.devstack.process import find_binary
    from orderflow.devstack.temporal import search_attribute_args
    from provisioning.topics import create_topics

    with tempfile.TemporaryDirectory(prefix="orderflow-bench-") as tmp:
        extra = [*search_attribute_args(), "--log-level", "error"]
        if args.temporal_db:
            extra += ["--db-filename", str(Path(tmp) / "temporal.db")]
        env = await WorkflowEnvironment.start_local(
            port=free_port(),
            ui=False,
            data_converter=pydantic_data_converter,
            dev_server_existing_path=find_binary("temporal"),
            dev_server_extra_args=extra,
        )
        broker = start_broker(host="127.0.0.1", port=free_port(), log_path=Path(tmp) / "b.log")
        try:
            await create_topics(
                common_options(KafkaSettings(bootstrap_servers=broker.bootstrap_servers)),
                partitions=12,
                replication_factor=1,
                retention_ms=KafkaSettings().retention_ms,
            )
            async with fresh_database(Path(tmp)) as database_url:
                yield env.client, database_url, broker.bootstrap_servers
        finally:
            broker.stop()
            await env.shutdown()


@contextlib.asynccontextmanager
async def fresh_database(tmp: Path) -> AsyncIterator[str]:
    """A new database migrated to head on the local server (or an embedded one); dropped after."""
    import asyncpg

    from orderflow.devstack.net import port_open
    from provisioning.migrations import upgrade_async

    embedded = None
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    if not port_open("127.0.0.1", 5432):
        from orderflow.devstack.postgres import start_embedded_postgres

        embedded = start_embedded_postgres(tmp / "pgdata")
        admin = embedded.admin_url
    name = f"orderflow_bench_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(admin)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    try:
        await upgrade_async(url)
        yield url
    finally:
        connection = await asyncpg.connect(admin)
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()
        if embedded is not None:
            embedded.stop()


async def main(args: argparse.Namespace) -> None:
    configure_logging(TelemetrySettings(log_level="WARNING"))
    async with services(args) as (client, database_url, bootstrap):
        engine = create_engine(database_url, pool_size=20, max_overflow=20)
        producer = AIOKafkaProducer(**producer_options(KafkaSettings(bootstrap_servers=bootstrap)))
        await producer.start()
        events = OpenEvents(bootstrap)
        await events.start()
        try:
            activities = order_activities(create_session_factory(engine), producer)
            results: dict[str, Result] = {}
            per_round = max(1, args.orders // args.rounds)
            # Variants take turns, so a change in the machine's load hits all of them alike.
            for number in range(1, args.rounds + 1):
                for key in args.variants:
                    print(f"round {number}/{args.rounds}: {key}, {per_round} orders …")
                    result = await run_variant(
                        key,
                        client=client,
                        activities=activities,
                        events=events,
                        orders=per_round,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                    )
                    results[key] = results[key].merge(result) if key in results else result
        finally:
            await events.stop()
            await producer.stop()
            await engine.dispose()
    print()
    print(HEADER)
    for result in results.values():
        print(result.row())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument(
        "--concurrency", type=int, default=50, help="orders between start and Open at most"
    )
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured orders per run")
    parser.add_argument("--rounds", type=int, default=2, help="variants take turns this often")
    parser.add_argument(
        "--variants", nargs="+", choices=sorted(VARIANTS), default=["regular", "local"]
    )
    parser.add_argument("--temporal-db", action="store_true", help="file-backed dev server")
    parser.add_argument("--use-settings", action="store_true", help="use the ORDERFLOW_* stack")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
