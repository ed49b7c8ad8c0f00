"""Lookup latency of the order database at scale, through the repository.

Creates a throw-away database, migrates it, loads N orders (default 1,000,000; two lines each,
statuses and locations spread out, one or two history rows each) with COPY, then measures
median and p99 of:

* ``get_order`` by order ID (order + lines + history: three statements),
* ``list_orders`` first page by status, by location + status, and unfiltered, plus a deep page
  reached with a cursor,

and prints the EXPLAIN (ANALYZE, BUFFERS) plans of the statements the repository issued.

    .venv/bin/python -m benchmarks.db_lookup --orders 1000000
    .venv/bin/python -m benchmarks.db_lookup --orders 20000 --samples 200   # a quick look

The server is ``--admin-url`` (a libpq URL of a database where CREATE DATABASE is allowed;
default ``ORDERFLOW_TEST_DATABASE_URL`` or the local server at 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import create_engine, create_session_factory
from db.repository import get_order, list_orders
from provisioning.migrations import upgrade_async

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCATIONS = [f"DC-{n:03d}" for n in range(50)]
# Share of orders per status (%): most are open or early in fulfillment; 3500 is rare.
STATUS_WEIGHTS = {1000: 50.0, 2000: 20.0, 3000: 10.0, 3500: 0.1, 7000: 9.9, 9000: 10.0}
BATCH = 50_000
TRIGGERS_OFF = "ALTER TABLE {table} DISABLE TRIGGER USER"
TRIGGERS_ON = "ALTER TABLE {table} ENABLE TRIGGER USER"


def order_id(index: int) -> str:
    return f"ORD-{index:08d}"


def generate(count: int, seed: int) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
    """Batches of (orders, lines, history) rows, oldest order first (30 days, spread evenly)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    for first in range(0, count, BATCH):
        orders: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        history: list[tuple[Any, ...]] = []
        for index in range(first, min(first + BATCH, count)):
            oid = order_id(index)
            created = start + step * index
            status = rng.choices(statuses, weights)[0]
            location = rng.choice(LOCATIONS)
            price = Decimal(rng.randint(100, 99_999)).scaleb(-2).quantize(Decimal("0.0001"))
            total = (price * 3).quantize(Decimal("0.0001"))
            raw = json.dumps({"OrderID": oid, "ShipFromLocationID": location})
            orders.append(
                (
                    oid,
                    location,
                    status,
                    "EUR",
                    total,
                    total,
                    f"corr-{index}",
                    raw,
                    "bench",
                    created,
                    created,
                )
            )
            lines.append((oid, "1", 1, "SKU-1", Decimal("1.0000"), price, location))
            lines.append((oid, "2", 2, "SKU-2", Decimal("2.0000"), price, location))
            history.append((oid, None, 1000, created, "bench"))
            if status != 1000:
                history.append((oid, 1000, status, created, "bench"))
        yield orders, lines, history


async def load(admin_url: str, url: str, count: int) -> float:
    """COPY ``count`` orders in; returns seconds. Triggers are off during the load (history is
    written explicitly, as pg_restore does), then on again; VACUUM ANALYZE at the end."""
    began = time.perf_counter()
    connection = await asyncpg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        for table in ("orders", "order_lines", "order_status_history"):
            await connection.execute(TRIGGERS_OFF.format(table=table))
        for orders, lines, history in generate(count, seed=7):
            await connection.copy_records_to_table(
                "orders",
                records=orders,
                columns=[
                    "order_id",
                    "ship_from_location_id",
                    "status_code",
                    "currency_code",
                    "order_sub_total",
                    "order_total",
                    "correlation_id",
                    "raw_message",
                    "status_source",
                    "created_at",
                    "updated_at",
                ],
            )
            await connection.copy_records_to_table(
                "order_lines",
                records=lines,
                columns=[
                    "order_id",
                    "order_line_id",
                    "line_number",
                    "item_id",
                    "quantity",
                    "unit_price",
                    "ship_from_location_id",
                ],
            )
            await connection.copy_records_to_table(
                "order_status_history",
                records=history,
                columns=["order_id", "from_status", "to_status", "changed_at", "source"],
            )
            print(f"  loaded {orders[-1][0]}", flush=True)
        for table in ("orders", "order_lines", "order_status_history"):
            await connection.execute(TRIGGERS_ON.format(table=table))
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - began


async def timed(samples: int, call: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    """(median, p99) in milliseconds over ``samples`` calls, after a short warm-up."""
    for index in range(min(50, samples)):
        await call(index)
    durations = []
    for index in range(samples):
        began = time.perf_counter()
        await call(index)
        durations.append((time.perf_counter() - began) * 1000)
    durations.sort()
    return statistics.median(durations), durations[
        min(len(durations) - 1, int(len(durations) * 0.99))
    ]


class StatementRecorder:
    """Keeps the statements the repository sends, to EXPLAIN exactly those."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.enabled = False
        event.listen(engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if self.enabled:
            self.statements.append((statement, parameters))


async def explain(engine: AsyncEngine, statements: list[tuple[str, Any]]) -> None:
    async with engine.connect() as connection:
        for statement, parameters in statements:
            print("\n" + " ".join(statement.split()))
            result = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters
            )
            for (line,) in result:
                print("    " + line)


def cases(
    factory: async_sessionmaker[AsyncSession], count: int, samples: int, deep_cursor: str | None
) -> list[tuple[str, Callable[[int], Awaitable[object]]]]:
    """The measured calls, each a fresh session as an API request or activity would use."""
    rng = random.Random(11)
    ids = [order_id(rng.randrange(count)) for _ in range(samples)]

    async def by_id(i: int) -> object:
        async with factory() as session:
            found = await get_order(session, ids[i % len(ids)])
        assert found is not None
        return found

    def page(**filters: Any) -> Callable[[int], Awaitable[object]]:
        async def call(_: int) -> object:
            async with factory() as session:
                return await list_orders(session, limit=50, **filters)

        return call

    return [
        ("get_order by order ID (3 statements)", by_id),
        ("list_orders first page, status=1000", page(status=1000)),
        ("list_orders first page, status=9000", page(status=9000)),
        ("list_orders first page, status=3500 (rare)", page(status=3500)),
        (
            "list_orders first page, location + status",
            page(ship_from_location_id="DC-007", status=2000),
        ),
        ("list_orders first page, no filter", page()),
        ("list_orders page 21 by cursor, status=2000", page(status=2000, cursor=deep_cursor)),
    ]


async def measure(url: str, count: int, samples: int, **engine_options: Any) -> None:
    engine = create_engine(url, pool_size=2, max_overflow=0, **engine_options)
    factory = create_session_factory(engine)
    async with factory() as session:
        cursor = None
        for _ in range(20):  # 20 pages deep
            cursor = (await list_orders(session, status=2000, limit=50, cursor=cursor)).next_cursor
    options = ", ".join(f"{k}={v}" for k, v in engine_options.items()) or "defaults"
    print(f"\nengine: {options}")
    print(f"{'case':<46} {'median ms':>10} {'p99 ms':>10}   ({samples} samples each)")
    for name, call in cases(factory, count, samples, cursor):
        median, p99 = await timed(samples, call)
        print(f"{name:<46} {median:>10.3f} {p99:>10.3f}")
    await engine.dispose()


async def explain_repository_statements(url: str, count: int) -> None:
    engine = create_engine(url, pool_size=2, max_overflow=0)
    factory = create_session_factory(engine)
    recorder = StatementRecorder(engine)
    async with factory() as session:
        cursor = None
        for _ in range(20):
            cursor = (await list_orders(session, status=2000, limit=50, cursor=cursor)).next_cursor
    recorder.enabled = True
    for _, call in cases(factory, count, 1, cursor):
        await call(0)
    recorder.enabled = False
    print("\nEXPLAIN (ANALYZE, BUFFERS) of the statements the repository sent:")
    await explain(engine, recorder.statements)
    await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    admin_url: str = args.admin_url
    name = f"orderflow_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    url_text = url.render_as_string(hide_password=False)
    try:
        await upgrade_async(url_text)
        print(f"database {name}: loading {args.orders:,} orders")
        seconds = await load(admin_url, url_text, args.orders)
        print(
            f"loaded in {seconds:.1f} s ({args.orders / seconds:,.0f} orders/s incl. 2 lines each)"
        )
        # The defaults are PgBouncer-safe (no statement cache) and ping pooled connections; the
        # second run shows what a direct connection with the cache saves on the client side.
        await measure(url_text, args.orders, args.samples)
        await measure(
            url_text, args.orders, args.samples, statement_cache=True, pool_pre_ping=False
        )
        await explain_repository_statements(url_text, args.orders)
    finally:
        if not args.keep:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to load")
    parser.add_argument("--samples", type=int, default=1000, help="timed calls per case")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("ORDERFLOW_TEST_DATABASE_URL", DEFAULT_ADMIN_URL).replace(
            "postgresql+asyncpg://", "postgresql://"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
