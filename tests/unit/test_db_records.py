"""The order's fields are defined once (``contracts.order``): the database's columns, the views
the repository returns (and the API serves) and the page cursor follow from them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from contracts.order import LINE_COLUMNS, ORDER_COLUMNS, OrderFields, OrderLineFields
from db.models import Order, OrderLine, OrderStatusHistory
from db.repository import (
    InvalidCursorError,
    OrderLineView,
    OrderSummary,
    OrderView,
    StatusHistoryEntry,
    decode_cursor,
    encode_cursor,
)

NOW = datetime(2025, 3, 1, 10, tzinfo=UTC)


def test_every_field_has_its_column() -> None:
    assert set(ORDER_COLUMNS) <= set(Order.__table__.columns.keys())
    assert set(LINE_COLUMNS) <= set(OrderLine.__table__.columns.keys())


@pytest.mark.parametrize(
    ("view", "table"),
    [
        (OrderSummary, Order),
        (OrderLineView, OrderLine),
        (StatusHistoryEntry, OrderStatusHistory),
    ],
)
def test_every_view_field_is_a_column(view: type, table: type) -> None:
    assert set(view.model_fields) <= set(table.__table__.columns.keys())  # type: ignore[attr-defined]


def test_views_reuse_the_contract_fields() -> None:
    assert issubclass(OrderSummary, OrderFields)
    assert issubclass(OrderLineView, OrderLineFields)


def _row(**values: object) -> SimpleNamespace:
    header = dict.fromkeys(ORDER_COLUMNS)
    return SimpleNamespace(**{**header, **values})


def test_a_view_shows_the_wire_names_and_exact_decimals() -> None:
    line = SimpleNamespace(
        order_line_id="1",
        item_id="SKU",
        quantity=Decimal("2.0000"),
        uom=None,
        unit_price=Decimal("0E-4"),
        ship_from_location_id=None,
        line_number=1,
    )
    entry = SimpleNamespace(
        from_status=None,
        to_status=1000,
        changed_at=NOW,
        source="workflow",
        correlation_id="c",
        reason=None,
    )
    row = _row(
        order_id="A-1",
        ship_from_location_id="DC-1",
        currency_code="EUR",
        order_total=Decimal("12.3400"),
        status_code=2000,
        correlation_id="c",
        raw_message={"Secret": "kept out of the API"},
        created_at=NOW,
        updated_at=NOW,
    )
    view = OrderView.of(
        row, order_lines=(OrderLineView.of(line),), history=(StatusHistoryEntry.of(entry),)
    )
    body = json.loads(view.model_dump_json())
    assert body["OrderID"] == "A-1"
    assert body["ShipFromLocationID"] == "DC-1"
    assert (body["StatusCode"], body["StatusName"]) == (2000, "Allocated")
    assert body["OrderTotal"] == "12.3400"
    assert body["OrderLines"] == [
        {
            "OrderLineID": "1",
            "ItemID": "SKU",
            "Quantity": "2.0000",
            "UOM": None,
            "UnitPrice": "0.0000",
            "ShipFromLocationID": None,
            "LineNumber": 1,
        }
    ]
    assert body["History"][0]["StatusName"] == "Open"
    assert "RawMessage" not in body
    assert view.raw_message == {"Secret": "kept out of the API"}


def test_a_stored_value_that_a_newer_rule_refuses_is_still_readable() -> None:
    # Views are not validated again: a currency dropped from ISO 4217 must not hide orders.
    row = _row(order_id="A-1", ship_from_location_id="DC-1", currency_code="HRK")
    summary = OrderSummary.of(
        row, status_code=1000, correlation_id="c", created_at=NOW, updated_at=NOW
    )
    assert json.loads(summary.model_dump_json())["CurrencyCode"] == "HRK"


def test_cursor_round_trip() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=1)))
    assert decode_cursor(encode_cursor(moment, "A:b.c-1")) == (moment, "A:b.c-1")


@pytest.mark.parametrize("cursor", ["", "%%%", "bm90IGpzb24", "WyJ4IiwgMV0", "WzEsMl0"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
