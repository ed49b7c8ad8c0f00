from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from contracts.order_create_v1 import loads, validate_order
from db.repository import InvalidCursorError, NewOrder, NewOrderLine, decode_cursor, encode_cursor

MESSAGE = b"""{
  "OrderID": "ORD-1", "ShipFromLocationID": "DC-1", "OrgID": "ORG", "CustomerID": "C-9",
  "CurrencyCode": "EUR", "CapturedDate": "2025-03-01T10:00:00",
  "OrderLines": [
    {"OrderLineID": "1", "ItemID": "SKU-1", "Quantity": 2, "UnitPrice": 1.25, "UOM": "EA"},
    {"OrderLineID": "2", "ItemID": "SKU-2", "Quantity": "0.5", "ShipFromLocationID": "DC-1"}
  ],
  "OrderSubTotal": 2.50, "OrderTotal": 2.50, "Gift": {"Wrap": true}
}"""


def test_from_message_maps_every_field() -> None:
    payload = loads(MESSAGE)
    validation = validate_order(payload)
    assert validation.order is not None, validation.issues
    order = NewOrder.from_message(validation.order, correlation_id="corr-1", raw_message=payload)
    assert order.order_id == "ORD-1"
    assert order.ship_from_location_id == "DC-1"
    assert (order.org_id, order.customer_id, order.currency_code) == ("ORG", "C-9", "EUR")
    # A naive CapturedDate is taken to be UTC.
    assert order.captured_date == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert order.order_sub_total == Decimal("2.50")
    assert order.total_taxes is None
    assert order.correlation_id == "corr-1"
    assert order.raw_message["Gift"] == {"Wrap": True}
    assert order.source == "workflow"
    assert order.lines == (
        NewOrderLine(
            order_line_id="1",
            item_id="SKU-1",
            quantity=Decimal(2),
            uom="EA",
            unit_price=Decimal("1.25"),
        ),
        NewOrderLine(
            order_line_id="2",
            item_id="SKU-2",
            quantity=Decimal("0.5"),
            ship_from_location_id="DC-1",
        ),
    )


def test_cursor_round_trip() -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=1)))
    assert decode_cursor(encode_cursor(moment, "A:b.c-1")) == (moment, "A:b.c-1")


@pytest.mark.parametrize("cursor", ["", "%%%", "bm90IGpzb24", "WyJ4IiwgMV0", "WzEsMl0"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_cursor(cursor)
