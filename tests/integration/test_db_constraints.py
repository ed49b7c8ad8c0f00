"""Every CHECK and trigger, proven by trying to break it with plain SQL and seeing it refused."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.status import OrderStatus, is_allowed
from db.repository import get_order, upsert_order
from tests.fixtures.database import sample_order
from tests.helpers.ids import unique_order_id

pytestmark = pytest.mark.integration

Factory = async_sessionmaker[AsyncSession]

INSERT_ORDER = """
INSERT INTO orders (order_id, ship_from_location_id, status_code, currency_code, order_total,
                    correlation_id, raw_message, status_source)
VALUES (:order_id, :location, :status, :currency, :total, 'c', CAST(:raw AS jsonb), 'test')
"""
INSERT_LINE = """
INSERT INTO order_lines (order_id, order_line_id, line_number, item_id, quantity, unit_price)
VALUES (:order_id, :line_id, 1, :item, :quantity, :price)
"""


def _refusal(exc: DBAPIError) -> tuple[str | None, str | None]:
    """(SQLSTATE, constraint name) of the driver error behind ``exc``."""
    original = exc.orig.__cause__ if exc.orig is not None else None
    return getattr(original, "sqlstate", None), getattr(original, "constraint_name", None)


async def refused(factory: Factory, sql: str, **params: Any) -> tuple[str | None, str | None]:
    with pytest.raises(DBAPIError) as info:
        async with factory.begin() as session:
            await session.execute(text(sql), params)
    return _refusal(info.value)


def order_params(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "order_id": unique_order_id(),
        "location": "DC-1",
        "status": 1000,
        "currency": "EUR",
        "total": Decimal("10.00"),
        "raw": "{}",
    }
    return params | changes


def line_params(order_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "line_id": "1",
        "item": "SKU",
        "quantity": 1,
        "price": 1,
    } | changes


@pytest.fixture
async def order_id(session_factory: Factory) -> str:
    order = sample_order()
    async with session_factory.begin() as session:
        await upsert_order(session, order)
    return order.order_id


CHECK = "23514"
RESTRICT = "23001"
FOREIGN_KEY = "23503"


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"status": 1234}, "ck_orders_status_code_known"),
        ({"total": Decimal("-0.01")}, "ck_orders_order_total_non_negative"),
        ({"total": Decimal("1.23456")}, "ck_orders_order_total_numeric_18_4"),
        ({"total": Decimal("100000000000000")}, "ck_orders_order_total_numeric_18_4"),
        ({"order_id": ""}, "ck_orders_order_id_format"),
        ({"order_id": "has space"}, "ck_orders_order_id_format"),
        ({"order_id": "x" * 65}, "ck_orders_order_id_format"),
        ({"location": "   "}, "ck_orders_ship_from_location_id_length"),
        ({"location": "L" * 65}, "ck_orders_ship_from_location_id_length"),
        ({"currency": "eur"}, "ck_orders_currency_code_iso4217"),
        ({"raw": "[1, 2]"}, "ck_orders_raw_message_object"),
    ],
)
async def test_bad_orders_are_refused(
    session_factory: Factory, changes: dict[str, Any], constraint: str
) -> None:
    params = order_params(**changes)
    assert await refused(session_factory, INSERT_ORDER, **params) == (CHECK, constraint)


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"quantity": 0}, "ck_order_lines_quantity_positive"),
        ({"quantity": -1}, "ck_order_lines_quantity_positive"),
        ({"quantity": Decimal("1.00001")}, "ck_order_lines_quantity_numeric_18_4"),
        ({"price": Decimal("-5")}, "ck_order_lines_unit_price_non_negative"),
        ({"price": Decimal("0.12345")}, "ck_order_lines_unit_price_numeric_18_4"),
        ({"line_id": ""}, "ck_order_lines_order_line_id_length"),
        ({"item": "I" * 129}, "ck_order_lines_item_id_length"),
    ],
)
async def test_bad_lines_are_refused(
    session_factory: Factory, order_id: str, changes: dict[str, Any], constraint: str
) -> None:
    params = line_params(order_id, **changes)
    assert await refused(session_factory, INSERT_LINE, **params) == (CHECK, constraint)


async def test_a_line_needs_its_order(session_factory: Factory) -> None:
    params = line_params(unique_order_id())
    state, _ = await refused(session_factory, INSERT_LINE, **params)
    assert state == FOREIGN_KEY


async def test_accepted_amounts_are_stored_at_scale_4(session_factory: Factory) -> None:
    params = order_params(total=Decimal("12.34"))
    async with session_factory.begin() as session:
        await session.execute(text(INSERT_ORDER), params)
        # A fifth decimal that is zero is not a fifth decimal.
        await session.execute(
            text(INSERT_LINE), line_params(params["order_id"], quantity=Decimal("1.50000"))
        )
    async with session_factory() as session:
        stored = await get_order(session, params["order_id"])
    assert stored is not None
    assert str(stored.order_total) == "12.3400"
    assert str(stored.order_lines[0].quantity) == "1.5000"
    assert str(stored.order_lines[0].unit_price) == "1.0000"


# --------------------------------------------------------------------------- history


async def test_history_rows_cannot_be_changed_or_removed(
    session_factory: Factory, order_id: str
) -> None:
    where = "WHERE order_id = :order_id"
    for sql in (
        f"UPDATE order_status_history SET to_status = 9000 {where}",
        f"UPDATE order_status_history SET source = 'forged' {where}",
        f"DELETE FROM order_status_history {where}",
    ):
        state, _ = await refused(session_factory, sql, order_id=order_id)
        assert state == RESTRICT, sql
    state, _ = await refused(session_factory, "TRUNCATE order_status_history CASCADE")
    assert state == RESTRICT
    # An order with history cannot be deleted (PostgreSQL 18 reports RESTRICT as 23001).
    state, constraint = await refused(
        session_factory, "DELETE FROM orders WHERE order_id = :order_id", order_id=order_id
    )
    assert state in {FOREIGN_KEY, RESTRICT}
    assert constraint == "fk_order_status_history_order_id_orders"
    async with session_factory() as session:
        stored = await get_order(session, order_id)
    assert stored is not None
    assert len(stored.history) == 1


async def test_raw_status_updates_are_checked_and_recorded(
    session_factory: Factory, order_id: str
) -> None:
    update = "UPDATE orders SET status_code = :to WHERE order_id = :order_id"
    assert await refused(session_factory, update, to=3000, order_id=order_id) == (
        CHECK,
        "ck_orders_status_transition",
    )
    async with session_factory.begin() as session:
        await session.execute(
            text(
                "UPDATE orders SET status_code = 9000, status_source = 'ops', "
                "status_correlation_id = 'ticket-7', status_reason = 'fraud' "
                "WHERE order_id = :order_id"
            ),
            {"order_id": order_id},
        )
        # Updating other columns writes no history row.
        await session.execute(
            text("UPDATE orders SET customer_id = 'C-2' WHERE order_id = :order_id"),
            {"order_id": order_id},
        )
    assert await refused(session_factory, update, to=1000, order_id=order_id) == (
        CHECK,
        "ck_orders_status_transition",
    )
    async with session_factory() as session:
        stored = await get_order(session, order_id)
    assert stored is not None
    history = [
        (h.from_status, h.to_status, h.source, h.correlation_id, h.reason) for h in stored.history
    ]
    assert history == [
        (None, 1000, "workflow", f"corr-{order_id}", None),
        (1000, 9000, "ops", "ticket-7", "fraud"),
    ]
    assert stored.updated_at > stored.created_at


async def test_created_at_is_immutable(session_factory: Factory, order_id: str) -> None:
    async with session_factory.begin() as session:
        await session.execute(
            text("UPDATE orders SET created_at = '2000-01-01' WHERE order_id = :order_id"),
            {"order_id": order_id},
        )
    async with session_factory() as session:
        stored = await get_order(session, order_id)
    assert stored is not None
    assert stored.created_at.year > 2000


async def test_the_database_transition_table_equals_the_contract(session_factory: Factory) -> None:
    codes = [int(code) for code in OrderStatus]
    async with session_factory() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT f, t, orderflow_status_transition_allowed(f, t) "
                    "FROM unnest(CAST(:codes AS integer[])) f, unnest(CAST(:codes AS integer[])) t"
                ),
                {"codes": codes},
            )
        ).all()
    assert len(rows) == len(codes) ** 2
    assert {(f, t): allowed for f, t, allowed in rows} == {
        (f, t): is_allowed(f, t) for f in codes for t in codes
    }


async def test_a_deliberate_purge_removes_lines_with_their_order(session_factory: Factory) -> None:
    """The documented purge (docs/operations/database.md): as the table owner, in one
    transaction, disable the append-only trigger, delete history, then the order; lines follow
    by ON DELETE CASCADE."""
    order = sample_order(line_count=3)
    async with session_factory.begin() as session:
        await upsert_order(session, order)
    async with session_factory.begin() as session:
        params = {"order_id": order.order_id}
        await session.execute(
            text(
                "ALTER TABLE order_status_history DISABLE TRIGGER order_status_history_append_only"
            )
        )
        await session.execute(
            text("DELETE FROM order_status_history WHERE order_id = :order_id"), params
        )
        await session.execute(text("DELETE FROM orders WHERE order_id = :order_id"), params)
        await session.execute(
            text("ALTER TABLE order_status_history ENABLE TRIGGER order_status_history_append_only")
        )
        lines = (
            await session.execute(
                text("SELECT count(*) FROM order_lines WHERE order_id = :order_id"), params
            )
        ).scalar_one()
    assert lines == 0
