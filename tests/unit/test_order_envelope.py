"""Lenient parse of order.create.v1: what the bridge needs to start a workflow, or poison."""

from __future__ import annotations

import json

import pytest

from contracts.dlq import DlqStage
from contracts.order_create_v1.envelope import PoisonMessage, parse_envelope, read_fields

LIMIT = 1024


def envelope_of(payload: object) -> object:
    return parse_envelope(json.dumps(payload).encode(), max_bytes=LIMIT)


def test_only_a_usable_order_id_is_needed() -> None:
    envelope = parse_envelope(b'{"OrderID": "ORD-1", "Anything": [1, 2]}', max_bytes=LIMIT)
    assert envelope.order_id == "ORD-1"
    assert envelope.schema_version == "1.0"
    assert envelope.fields.ship_from_location_id is None


def test_optional_tracing_fields_are_picked_up() -> None:
    envelope = parse_envelope(
        b'{"OrderID": "ORD-1", "MessageID": "m-1", "CorrelationID": "c-1", '
        b'"ShipFromLocationID": "DC-1", "SchemaVersion": "1.3"}',
        max_bytes=LIMIT,
    )
    assert (envelope.fields.message_id, envelope.fields.correlation_id) == ("m-1", "c-1")
    assert envelope.fields.ship_from_location_id == "DC-1"
    assert envelope.schema_version == "1.3"


@pytest.mark.parametrize(
    ("value", "stage", "error_type"),
    [
        (None, DlqStage.DESERIALIZE, "EmptyMessage"),
        (b"", DlqStage.DESERIALIZE, "EmptyMessage"),
        (b"not json", DlqStage.DESERIALIZE, "MessageDecodeError"),
        (b'{"OrderID": "x"', DlqStage.DESERIALIZE, "MessageDecodeError"),
        (b'{"OrderID": "\xff\xfe"}', DlqStage.DESERIALIZE, "MessageDecodeError"),
        (b"null", DlqStage.DESERIALIZE, "NotAnObject"),
        (b'[{"OrderID": "x"}]', DlqStage.DESERIALIZE, "NotAnObject"),
        (b'"ORD-1"', DlqStage.DESERIALIZE, "NotAnObject"),
        (b"{" + b" " * LIMIT + b"}", DlqStage.DESERIALIZE, "MessageTooLarge"),
        (b'{"ShipFromLocationID": "DC-1"}', DlqStage.SCHEMA, "ERR_MISSING_ORDER_ID"),
        (b'{"OrderID": ""}', DlqStage.SCHEMA, "ERR_MISSING_ORDER_ID"),
        (b'{"OrderID": null}', DlqStage.SCHEMA, "ERR_MISSING_ORDER_ID"),
        (b'{"OrderID": 17}', DlqStage.SCHEMA, "ERR_INVALID_TYPE"),
        (b'{"OrderID": "a/b"}', DlqStage.SCHEMA, "ERR_INVALID_ORDER_ID"),
        (b'{"OrderID": "' + b"A" * 65 + b'"}', DlqStage.SCHEMA, "ERR_ORDER_ID_TOO_LONG"),
        (b'{"OrderID": "x", "SchemaVersion": "2.0"}', DlqStage.SCHEMA, "UnsupportedSchemaVersion"),
        (b'{"OrderID": "x", "SchemaVersion": 1}', DlqStage.SCHEMA, "UnsupportedSchemaVersion"),
        (b'{"OrderID": "x", "SchemaVersion": "v1"}', DlqStage.SCHEMA, "UnsupportedSchemaVersion"),
    ],
)
def test_poison_is_classified(value: bytes | None, stage: DlqStage, error_type: str) -> None:
    with pytest.raises(PoisonMessage) as caught:
        parse_envelope(value, max_bytes=LIMIT)
    assert caught.value.stage == stage
    assert caught.value.error_type == error_type
    assert caught.value.message


def test_invalid_but_parseable_orders_are_not_poison() -> None:
    # Missing location and zero quantity are business errors: the workflow reports them.
    envelope = parse_envelope(
        b'{"OrderID": "ORD-9", "OrderLines": [{"OrderLineID": "1", "ItemID": "i", "Quantity": 0}]}',
        max_bytes=LIMIT,
    )
    assert envelope.order_id == "ORD-9"


def test_deeply_nested_json_is_poison_not_a_crash() -> None:
    value = b'{"OrderID": "x", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(PoisonMessage) as caught:
        parse_envelope(value, max_bytes=len(value))
    assert caught.value.stage == DlqStage.DESERIALIZE


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (None, {}),
        ([1, 2], {}),
        (
            {"OrderID": "A", "ShipFromLocationID": "DC", "MessageID": "m"},
            {"order_id": "A", "ship_from_location_id": "DC", "message_id": "m"},
        ),
        # Blank or non-string text is not usable.
        ({"OrderID": " ", "ShipFromLocationID": 7, "CorrelationID": ""}, {}),
        (
            {"OrderLines": [{}, {}], "OrderTotal": "12.50"},
            {"line_count": 2, "order_total": "12.50"},
        ),
        ({"OrderLines": {"a": 1}, "OrderTotal": True}, {}),
        ({"OrderTotal": {"x": 1}}, {}),
    ],
)
def test_the_lenient_field_reader(payload: object, expected: dict[str, object]) -> None:
    fields = read_fields(payload)
    usable = {name: value for name, value in vars(fields).items() if value is not None}
    assert usable == expected
