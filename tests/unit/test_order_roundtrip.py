"""Property-based: valid orders survive a JSON round trip with every value unchanged."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.order_create_v1.envelope import loads
from contracts.order_create_v1.model import OrderCreateV1
from contracts.order_create_v1.validation import parse_order, validate_order

ID_ALPHABET = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
order_ids = st.text(ID_ALPHABET, min_size=1, max_size=64)
# Valid text never holds NUL: validation refuses it (PostgreSQL cannot store it).
names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20)
location_ids = names.filter(lambda s: s.strip() != "")


def numeric_18_4(min_value: str, *, positive: bool) -> st.SearchStrategy[Decimal]:
    values = st.decimals(
        min_value=Decimal(min_value),
        max_value=Decimal("99999999999999.9999"),
        places=4,
        allow_nan=False,
        allow_infinity=False,
    )
    return values.filter(lambda d: d > 0) if positive else values


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    location = draw(location_ids)
    line_ids = draw(
        st.lists(names.filter(lambda s: s.strip() != ""), min_size=1, max_size=5, unique=True)
    )
    lines = [
        {
            "OrderLineID": line_id,
            "ItemID": draw(location_ids),
            "Quantity": draw(numeric_18_4("0.0001", positive=True)),
            "UnitPrice": draw(st.none() | numeric_18_4("0", positive=False)),
            "ShipFromLocationID": draw(st.sampled_from([None, location])),
        }
        for line_id in line_ids
    ]
    order: dict[str, Any] = {
        "OrderID": draw(order_ids),
        "ShipFromLocationID": location,
        "CurrencyCode": draw(st.sampled_from([None, "USD", "EUR", "JPY", "GBP"])),
        "CapturedDate": draw(st.none() | st.datetimes(timezones=st.just(UTC))),
        "OrderLines": lines,
        "TotalCharges": draw(st.none() | numeric_18_4("0", positive=False)),
        "CustomAttribute": draw(st.none() | names),
    }
    return order


@settings(max_examples=200, deadline=None)
@given(orders())
def test_valid_orders_round_trip_through_json(payload: dict[str, Any]) -> None:
    first = validate_order(payload)
    assert first.valid, first.issues
    assert first.order is not None
    text = first.order.model_dump_json()
    second = parse_order(text)
    assert second.valid, second.issues
    assert second.order == first.order
    # Decimals are written as fixed-point strings: exactly the digits, never a binary float.
    for line, dumped in zip(first.order.order_lines, loads(text)["OrderLines"], strict=True):
        assert Decimal(dumped["Quantity"]) == line.quantity
        assert dumped["Quantity"] == format(line.quantity, "f")


@settings(max_examples=100, deadline=None)
@given(numeric_18_4("0", positive=False))
def test_decimals_as_json_numbers_parse_exactly(value: Decimal) -> None:
    raw = (
        '{"OrderID": "o", "ShipFromLocationID": "L", "OrderLines": '
        f'[{{"OrderLineID": "1", "ItemID": "i", "Quantity": 1, "UnitPrice": {value}}}]}}'
    )
    result = parse_order(raw)
    assert result.order is not None, result.issues
    assert result.order.order_lines[0].unit_price == value


def test_model_dump_keeps_unknown_fields() -> None:
    order = OrderCreateV1.model_validate(
        {
            "OrderID": "o",
            "ShipFromLocationID": "L",
            "Brand": "x",
            "OrderLines": [{"OrderLineID": "1", "ItemID": "i", "Quantity": "1", "Gift": True}],
        }
    )
    assert json.loads(order.model_dump_json())["Brand"] == "x"
    assert json.loads(order.model_dump_json())["OrderLines"][0]["Gift"] is True
