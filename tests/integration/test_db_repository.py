"""The repository against a real PostgreSQL, directly and through PgBouncer (transaction mode)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.limits import MAX_PAGE_SIZE
from contracts.order_create_v1.model import OrderLineV1
from db.models import Order, OrderLine, OrderStatusHistory
from db.repository import (
    InvalidTransitionError,
    NewOrder,
    OrderConflictError,
    OrderNotFoundError,
    StaleStatusError,
    change_status,
    get_order,
    list_orders,
    upsert_order,
)
from tests.fixtures.database import sample_order
from tests.helpers.ids import unique_order_id

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]


def changed(order: NewOrder, **fields: object) -> NewOrder:
    """``order`` with some of its message's fields (snake_case names) replaced."""
    return replace(order, order=order.order.model_copy(update=fields))


@pytest.fixture(params=["direct", "pgbouncer"])
def factory(request: pytest.FixtureRequest) -> Factory:
    name = "session_factory" if request.param == "direct" else "pgbouncer_session_factory"
    result: Factory = request.getfixturevalue(name)
    return result


async def row_counts(factory: Factory, order_id: str) -> tuple[int, int, int]:
    async with factory() as session:
        counts = []
        for model in (Order, OrderLine, OrderStatusHistory):
            counts.append(
                (
                    await session.execute(
                        select(func.count()).select_from(model).where(model.order_id == order_id)
                    )
                ).scalar_one()
            )
    return counts[0], counts[1], counts[2]


# --------------------------------------------------------------------------- upsert


async def test_repeated_upserts_store_the_order_once(factory: Factory) -> None:
    order = sample_order(line_count=3)
    results = []
    for _ in range(3):
        async with factory.begin() as session:
            results.append(await upsert_order(session, order))
    assert [r.created for r in results] == [True, False, False]
    assert {r.status_code for r in results} == {1000}
    assert await row_counts(factory, order.order_id) == (1, 3, 1)


async def test_retry_with_new_correlation_id_is_the_same_order(factory: Factory) -> None:
    order = sample_order()
    async with factory.begin() as session:
        await upsert_order(session, order)
    retry = replace(order, correlation_id="another", raw_message={"OrderID": order.order_id})
    async with factory.begin() as session:
        assert (await upsert_order(session, retry)).created is False
    async with factory() as session:
        stored = await get_order(session, order.order_id)
    assert stored is not None
    assert stored.correlation_id == order.correlation_id


async def test_retry_with_equal_values_in_another_form_is_the_same_order(factory: Factory) -> None:
    order = sample_order(captured_date=datetime(2025, 1, 1, 12, tzinfo=UTC))
    async with factory.begin() as session:
        await upsert_order(session, order)
    from datetime import timedelta, timezone

    same = changed(
        order,
        total_charges=Decimal("1.0000"),
        captured_date=datetime(2025, 1, 1, 13, tzinfo=timezone(timedelta(hours=1))),
    )
    async with factory.begin() as session:
        assert (await upsert_order(session, same)).created is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_total": Decimal("999")}, "order_total"),
        ({"ship_from_location_id": "DC-2"}, "ship_from_location_id"),
        ({"currency_code": "USD"}, "currency_code"),
    ],
)
async def test_same_order_id_with_other_header_is_a_conflict(
    factory: Factory, change: dict[str, object], field: str
) -> None:
    order = sample_order()
    async with factory.begin() as session:
        await upsert_order(session, order)
    with pytest.raises(OrderConflictError) as info:
        async with factory.begin() as session:
            await upsert_order(session, changed(order, **change))
    assert info.value.fields == (field,)
    assert "999" not in str(info.value)  # names fields, never values
    async with factory() as session:
        stored = await get_order(session, order.order_id)
    assert stored is not None
    assert stored.order_total == order.order.order_total
    assert await row_counts(factory, order.order_id) == (1, 2, 1)


async def test_same_order_id_with_other_lines_is_a_conflict(factory: Factory) -> None:
    order = sample_order(line_count=2)
    async with factory.begin() as session:
        await upsert_order(session, order)
    lines = order.order.order_lines
    changed_line = lines[1].model_copy(update={"quantity": Decimal(7)})
    extra_line = OrderLineV1.model_validate({"OrderLineID": "L9", "ItemID": "X", "Quantity": 1})
    for other, expected in [
        (changed(order, order_lines=[lines[0], changed_line]), ("OrderLines[1].quantity",)),
        (changed(order, order_lines=[*lines, extra_line]), ("OrderLines",)),
        (changed(order, order_lines=lines[::-1]), ("OrderLines[0]", "OrderLines[1]")),
    ]:
        with pytest.raises(OrderConflictError) as info:
            async with factory.begin() as session:
                await upsert_order(session, other)
        assert info.value.fields == expected


async def test_twenty_concurrent_upserts_store_the_order_once(factory: Factory) -> None:
    order = sample_order(line_count=4)
    barrier = asyncio.Barrier(20)

    async def upsert_once() -> bool:
        async with factory.begin() as session:
            await session.connection()  # each task holds its own connection
            await barrier.wait()  # then all insert at the same moment
            return (await upsert_order(session, order)).created

    created = await asyncio.wait_for(asyncio.gather(*(upsert_once() for _ in range(20))), 120)
    assert sorted(created) == [False] * 19 + [True]
    assert await row_counts(factory, order.order_id) == (1, 4, 1)


async def test_raw_message_keeps_unknown_fields_and_exact_decimals(factory: Factory) -> None:
    raw = {"OrderID": "x", "Extra": [1, {"Price": Decimal("10.10"), "Flag": None}], "Ünï": "ok"}
    order = sample_order(raw_message=raw)
    async with factory.begin() as session:
        await upsert_order(session, order)
    async with factory() as session:
        stored = await get_order(session, order.order_id)
    assert stored is not None
    assert stored.raw_message == raw
    assert str(stored.raw_message["Extra"][1]["Price"]) == "10.10"


# --------------------------------------------------------------------------- status


async def test_change_status_is_applied_once_and_retries_are_no_ops(factory: Factory) -> None:
    order = sample_order()
    async with factory.begin() as session:
        await upsert_order(session, order)
    changes = []
    for _ in range(2):
        async with factory.begin() as session:
            changes.append(
                await change_status(
                    session,
                    order.order_id,
                    from_status=1000,
                    to_status=2000,
                    source="api",
                    correlation_id="corr-2",
                    reason="stock found",
                )
            )
    assert [c.applied for c in changes] == [True, False]
    assert changes[0].changed_at == changes[1].changed_at
    assert changes[0].status_name == "Allocated"
    async with factory() as session:
        stored = await get_order(session, order.order_id)
    assert stored is not None
    assert stored.status_code == 2000
    assert [(h.from_status, h.to_status) for h in stored.history] == [(None, 1000), (1000, 2000)]
    last = stored.history[-1]
    assert (last.source, last.correlation_id, last.reason) == ("api", "corr-2", "stock found")
    assert last.changed_at == changes[0].changed_at == stored.updated_at
    assert stored.updated_at > stored.created_at


async def test_change_status_refuses_illegal_unknown_and_stale_changes(factory: Factory) -> None:
    order = sample_order()
    async with factory.begin() as session:
        await upsert_order(session, order)

    async def change(from_status: int, to_status: int, order_id: str = order.order_id) -> None:
        async with factory.begin() as session:
            await change_status(
                session,
                order_id,
                from_status=from_status,
                to_status=to_status,
                source="test",
                correlation_id=None,
            )

    with pytest.raises(InvalidTransitionError) as illegal:
        await change(1000, 7000)
    assert (illegal.value.from_status, illegal.value.to_status) == (1000, 7000)
    assert "not allowed" in illegal.value.reason
    with pytest.raises(OrderNotFoundError):
        await change(1000, 2000, order_id=unique_order_id())
    with pytest.raises(OrderNotFoundError):
        await change(1000, 7000, order_id=unique_order_id())
    with pytest.raises(StaleStatusError) as stale:
        await change(2000, 3000)  # the order is still 1000
    assert (stale.value.expected, stale.value.from_status) == (2000, 1000)
    await change(1000, 9000)
    with pytest.raises(InvalidTransitionError, match="terminal"):
        await change(9000, 1000)
    assert await row_counts(factory, order.order_id) == (1, 2, 2)


async def test_a_rolled_back_change_leaves_no_history(factory: Factory) -> None:
    order = sample_order()
    async with factory.begin() as session:
        await upsert_order(session, order)
    async with factory() as session, session.begin():
        await change_status(
            session,
            order.order_id,
            from_status=1000,
            to_status=2000,
            source="t",
            correlation_id=None,
        )
        await session.rollback()
    assert await row_counts(factory, order.order_id) == (1, 2, 1)


# --------------------------------------------------------------------------- reads


async def test_get_order_returns_lines_in_message_order_and_scale_4_values(
    factory: Factory,
) -> None:
    order = sample_order(line_count=3)
    order = changed(order, order_lines=order.order.order_lines[::-1])
    async with factory.begin() as session:
        await upsert_order(session, order)
    async with factory() as session:
        stored = await get_order(session, order.order_id)
        missing = await get_order(session, unique_order_id())
    assert missing is None
    assert stored is not None
    assert [line.order_line_id for line in stored.order_lines] == ["L3", "L2", "L1"]
    assert [line.line_number for line in stored.order_lines] == [1, 2, 3]
    assert [str(line.quantity) for line in stored.order_lines] == ["3.0000", "2.0000", "1.0000"]
    assert str(stored.total_charges) == "1.0000"
    assert stored.status_name == "Open"


async def test_list_orders_pages_newest_first_with_filters(factory: Factory) -> None:
    location = unique_order_id("LOC")
    ids = [unique_order_id() for _ in range(5)]
    for order_id in ids:  # one transaction each: distinct created_at, oldest first
        async with factory.begin() as session:
            await upsert_order(session, sample_order(order_id, ship_from_location_id=location))
    async with factory.begin() as session:
        await change_status(
            session, ids[0], from_status=1000, to_status=9000, source="t", correlation_id=None
        )

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        async with factory() as session:
            page = await list_orders(
                session, ship_from_location_id=location, limit=2, cursor=cursor
            )
        seen += [item.order_id for item in page.orders]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(ids))
    assert pages == 3

    async with factory() as session:
        open_orders = await list_orders(
            session, status=1000, ship_from_location_id=location, limit=10
        )
        canceled = await list_orders(session, status=9000, ship_from_location_id=location, limit=10)
        newest = await list_orders(session, limit=1)
    assert [o.order_id for o in open_orders.orders] == list(reversed(ids[1:]))
    assert [(o.order_id, o.status_name) for o in canceled.orders] == [(ids[0], "Canceled")]
    assert canceled.next_cursor is None
    assert len(newest.orders) == 1
    assert newest.next_cursor is not None


async def test_list_orders_rejects_bad_limits(session_factory: Factory) -> None:
    async with session_factory() as session:
        for limit in (0, MAX_PAGE_SIZE + 1):
            with pytest.raises(ValueError, match="limit"):
                await list_orders(session, limit=limit)


async def test_pgbouncer_really_multiplexes(pgbouncer_session_factory: Factory) -> None:
    """More concurrent transactions than server connections: the setup the statement-cache
    settings exist for. Each transaction runs several distinct statements."""

    async def work(index: int) -> int:
        async with pgbouncer_session_factory.begin() as session:
            backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await session.execute(text("SELECT CAST(:i AS integer) + 1"), {"i": index})
            await list_orders(session, limit=3)
            return int(backend)

    backends = await asyncio.gather(*(work(i) for i in range(30)))
    from tests.fixtures.database import PGBOUNCER_SERVER_POOL

    assert 1 <= len(set(backends)) <= PGBOUNCER_SERVER_POOL


async def test_statement_cache_must_stay_off_behind_pgbouncer(pgbouncer_url: str) -> None:
    """Why ``statement_cache=False`` is the default: with asyncpg's cache on, a transaction
    lands on a server connection that lacks the statement prepared on another one."""
    from sqlalchemy.exc import DBAPIError

    from db.engine import create_engine, create_session_factory

    async def workload(statement_cache: bool) -> None:
        engine = create_engine(
            pgbouncer_url, pool_size=5, max_overflow=25, statement_cache=statement_cache
        )
        factory = create_session_factory(engine)

        async def work(index: int) -> None:
            for _ in range(5):
                async with factory.begin() as session:
                    await upsert_order(session, sample_order(line_count=1))
                    await list_orders(session, limit=3)
                    await session.execute(text("SELECT CAST(:i AS integer)"), {"i": index})

        try:
            await asyncio.gather(*(work(i) for i in range(30)))
        finally:
            await engine.dispose()

    with pytest.raises(DBAPIError, match="prepared statement"):
        await workload(statement_cache=True)
    await workload(statement_cache=False)
