"""Full validation of order.create.v1: every problem, each with its own code."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from contracts.errors import ErrorCode
from contracts.order_create_v1.validation import parse_order, validate_order


def good_order() -> dict[str, Any]:
    return {
        "MessageID": "msg-1",
        "OrderID": "ORD-1001",
        "ShipFromLocationID": "DC-01",
        "CurrencyCode": "EUR",
        "CapturedDate": "2026-11-27T10:00:00Z",
        "OrderLines": [
            {"OrderLineID": "1", "ItemID": "SKU-1", "Quantity": 2, "UnitPrice": "10.25"},
            {"OrderLineID": "2", "ItemID": "SKU-2", "Quantity": "1.5", "UnitPrice": 4},
        ],
        "OrderSubTotal": "26.5",
        "TotalTaxes": "2.12",
        "OrderTotal": "28.62",
    }


def codes(payload: Any) -> list[ErrorCode]:
    return [issue.Code for issue in validate_order(payload).issues]


def with_changes(**changes: Any) -> dict[str, Any]:
    order = good_order()
    order.update(changes)
    return order


def with_line_change(index: int, **changes: Any) -> dict[str, Any]:
    order = good_order()
    order["OrderLines"][index].update(changes)
    return order


def test_good_order_is_valid() -> None:
    result = validate_order(good_order())
    assert result.valid, result.issues
    assert result.order is not None
    assert result.order.order_lines[0].unit_price == Decimal("10.25")


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (
            {k: v for k, v in good_order().items() if k != "OrderID"},
            ErrorCode.MISSING_ORDER_ID,
            "OrderID",
        ),
        (with_changes(OrderID=""), ErrorCode.MISSING_ORDER_ID, "OrderID"),
        (with_changes(OrderID="ORD 1/2"), ErrorCode.INVALID_ORDER_ID, "OrderID"),
        (with_changes(OrderID="A" * 65), ErrorCode.ORDER_ID_TOO_LONG, "OrderID"),
        (
            {k: v for k, v in good_order().items() if k != "ShipFromLocationID"},
            ErrorCode.MISSING_SHIP_FROM_LOCATION,
            "ShipFromLocationID",
        ),
        (
            with_changes(ShipFromLocationID=""),
            ErrorCode.MISSING_SHIP_FROM_LOCATION,
            "ShipFromLocationID",
        ),
        (with_changes(OrderLines=[]), ErrorCode.NO_ORDER_LINES, "OrderLines"),
        (
            with_line_change(1, OrderLineID="1"),
            ErrorCode.DUPLICATE_ORDER_LINE_ID,
            "OrderLines[1].OrderLineID",
        ),
        (
            with_line_change(0, Quantity=0),
            ErrorCode.NON_POSITIVE_QUANTITY,
            "OrderLines[0].Quantity",
        ),
        (
            with_line_change(0, Quantity="-3"),
            ErrorCode.NON_POSITIVE_QUANTITY,
            "OrderLines[0].Quantity",
        ),
        (
            with_line_change(0, UnitPrice="-0.01"),
            ErrorCode.NEGATIVE_AMOUNT,
            "OrderLines[0].UnitPrice",
        ),
        (with_changes(TotalTaxes="1.23456"), ErrorCode.TOO_MANY_DECIMALS, "TotalTaxes"),
        (
            with_changes(TotalTaxes="123456789012345"),
            ErrorCode.TOO_MANY_INTEGER_DIGITS,
            "TotalTaxes",
        ),
        (
            with_line_change(0, ShipFromLocationID="DC-99"),
            ErrorCode.INCONSISTENT_SHIP_FROM_LOCATION,
            "OrderLines[0].ShipFromLocationID",
        ),
        (with_line_change(0, Quantity="lots"), ErrorCode.INVALID_DECIMAL, "OrderLines[0].Quantity"),
        (with_line_change(0, Quantity=True), ErrorCode.INVALID_DECIMAL, "OrderLines[0].Quantity"),
        (with_line_change(0, ItemID=42), ErrorCode.INVALID_TYPE, "OrderLines[0].ItemID"),
        (with_changes(OrderID=1001), ErrorCode.INVALID_TYPE, "OrderID"),
        (with_changes(OrderLines="1 line"), ErrorCode.INVALID_TYPE, "OrderLines"),
        (with_changes(CurrencyCode="EURO"), ErrorCode.INVALID_CURRENCY, "CurrencyCode"),
        (with_changes(CapturedDate="yesterday"), ErrorCode.INVALID_DATE, "CapturedDate"),
        (with_changes(SchemaVersion="one"), ErrorCode.UNSUPPORTED_SCHEMA_VERSION, "SchemaVersion"),
        (
            with_changes(OrderSubTotal="26.49", OrderTotal=None),
            ErrorCode.SUBTOTAL_MISMATCH,
            "OrderSubTotal",
        ),
        (with_changes(OrderTotal="28.63"), ErrorCode.TOTAL_MISMATCH, "OrderTotal"),
        (with_changes(CustomerID="C" * 65), ErrorCode.VALUE_TOO_LONG, "CustomerID"),
    ],
)
def test_each_problem_has_its_code(payload: dict[str, Any], code: ErrorCode, field: str) -> None:
    result = validate_order(payload)
    assert not result.valid
    assert result.order is None
    assert (code, field) in [(i.Code, i.Field) for i in result.issues], result.issues


def test_every_problem_is_reported_not_just_the_first() -> None:
    order = good_order()
    del order["ShipFromLocationID"]
    order["OrderID"] = "bad id"
    order["OrderLines"][0]["Quantity"] = 0
    order["OrderLines"][1]["UnitPrice"] = "-1"
    order["OrderLines"][1]["OrderLineID"] = "1"
    found = set(codes(order))
    assert {
        ErrorCode.INVALID_ORDER_ID,
        ErrorCode.MISSING_SHIP_FROM_LOCATION,
        ErrorCode.NON_POSITIVE_QUANTITY,
        ErrorCode.NEGATIVE_AMOUNT,
        ErrorCode.DUPLICATE_ORDER_LINE_ID,
    } <= found


def test_missing_line_fields_are_named() -> None:
    order = with_changes(OrderLines=[{"Quantity": 1}])
    issues = {(i.Code, i.Field) for i in validate_order(order).issues}
    assert (ErrorCode.MISSING_FIELD, "OrderLines[0].OrderLineID") in issues
    assert (ErrorCode.MISSING_FIELD, "OrderLines[0].ItemID") in issues


def test_floats_given_as_json_numbers_keep_their_exact_decimal_value() -> None:
    raw = b"""{"OrderID": "ORD-7", "ShipFromLocationID": "DC-01",
        "OrderLines": [{"OrderLineID": "1", "ItemID": "SKU-1", "Quantity": 3, "UnitPrice": 0.1},
                       {"OrderLineID": "2", "ItemID": "SKU-2", "Quantity": 1.1, "UnitPrice": 2.2}],
        "OrderSubTotal": 2.72, "TotalTaxes": 0.0001, "OrderTotal": 2.7201}"""
    result = parse_order(raw)
    # In binary floats 3 x 0.1 + 1.1 x 2.2 is 2.7200000000000006: the totals check would fail.
    assert result.valid, result.issues
    assert result.order is not None
    assert result.order.order_lines[0].unit_price == Decimal("0.1")
    assert result.order.order_lines[1].quantity == Decimal("1.1")
    assert result.order.total_taxes == Decimal("0.0001")


def test_unknown_fields_are_kept() -> None:
    order = with_changes(LoyaltyTier="gold", Extensions={"Gift": True})
    order["OrderLines"][0]["Engraving"] = "Happy birthday"
    result = validate_order(order)
    assert result.order is not None
    assert result.order.model_extra == {"LoyaltyTier": "gold", "Extensions": {"Gift": True}}
    dumped = result.order.model_dump(mode="json")
    assert dumped["OrderLines"][0]["Engraving"] == "Happy birthday"


def test_trailing_zeros_do_not_count_as_decimals() -> None:
    assert validate_order(with_changes(TotalTaxes="2.120000")).valid


def test_malformed_json_and_non_objects_are_issues_not_exceptions() -> None:
    assert [i.Code for i in parse_order(b"{not json").issues] == [ErrorCode.MALFORMED_JSON]
    assert [i.Code for i in parse_order(b"\xff\xfe").issues] == [ErrorCode.MALFORMED_JSON]
    assert [i.Code for i in parse_order(b"[1, 2]").issues] == [ErrorCode.NOT_AN_OBJECT]
    assert [i.Code for i in parse_order(b"NaN").issues] == [ErrorCode.MALFORMED_JSON]


def test_issue_messages_do_not_echo_payload_values() -> None:
    secret = "4111-1111-1111-1111"
    order = with_changes(OrderID=secret + " x")
    order["OrderLines"][0]["Quantity"] = secret
    for issue in validate_order(order).issues:
        assert secret not in issue.Message


def test_validation_does_not_modify_its_input() -> None:
    order = good_order()
    before = copy.deepcopy(order)
    validate_order(order)
    assert order == before


def test_nul_characters_are_a_validation_error_anywhere() -> None:
    # PostgreSQL can store NUL in neither text nor JSONB: refuse it up front, never retry it.
    order = with_changes(CustomerID="C\x001", Notes={"Gift\x00": "x"})
    order["OrderLines"][1]["Engraving"] = "a\x00b"
    issues = {(i.Code, i.Field) for i in validate_order(order).issues}
    assert issues == {
        (ErrorCode.NUL_CHARACTER, "CustomerID"),
        (ErrorCode.NUL_CHARACTER, "Notes.Gift\\u0000"),
        (ErrorCode.NUL_CHARACTER, "OrderLines[1].Engraving"),
    }
