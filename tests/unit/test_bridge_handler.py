"""The bridge's pure decision: one record -> a workflow start or a DLQ record."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bridges.handler import (
    DeadLetterRecord,
    RecordCoordinates,
    StartOrder,
    choose_correlation_id,
    decide,
)
from contracts import dlq
from contracts.dlq import DlqStage, header_map
from contracts.order_create_v1.envelope import MessageFields

NOW = datetime(2025, 1, 31, 10, 0, tzinfo=UTC)
COORDS = RecordCoordinates(topic="order.create.v1", partition=2, offset=41, timestamp_ms=1_700_000)
LIMIT = 1_048_576


def order(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "OrderID": "A-1",
        "ShipFromLocationID": "DC-07",
        "OrderLines": [{"OrderLineID": "1", "ItemID": "SKU", "Quantity": 1}],
    }
    body.update(overrides)
    return json.dumps(body).encode()


def run(
    value: bytes | None,
    headers: list[tuple[str, bytes]] | None = None,
    key: bytes | None = b"DC-07",
):
    return decide(
        key=key,
        value=value,
        headers=headers or [],
        coordinates=COORDS,
        max_message_bytes=LIMIT,
        received_at=NOW,
        new_id=lambda: "generated",
    )


def test_valid_order_becomes_a_start_with_origin_and_raw_message() -> None:
    decision = run(order(MessageID="m-1"))
    assert isinstance(decision, StartOrder)
    assert decision.workflow_id == "order-A-1"
    assert decision.fields.ship_from_location_id == "DC-07"
    assert decision.fields.line_count == 1
    wf_input = decision.input
    assert wf_input.order_id == "A-1"
    assert wf_input.raw_message == order(MessageID="m-1").decode()
    assert wf_input.origin is not None
    assert (wf_input.origin.topic, wf_input.origin.partition, wf_input.origin.offset) == (
        "order.create.v1",
        2,
        41,
    )
    assert wf_input.origin.key == b"DC-07"
    assert wf_input.origin.timestamp_ms == 1_700_000
    assert wf_input.message_id == "m-1"
    assert wf_input.received_at == NOW
    assert wf_input.attempt == 1


def test_invalid_but_parseable_order_still_starts_the_workflow() -> None:
    # Missing location and quantity 0 are the workflow's business (stage VALIDATE), not ours.
    body = json.loads(order())
    del body["ShipFromLocationID"]
    body["OrderLines"][0]["Quantity"] = 0
    assert isinstance(run(json.dumps(body).encode()), StartOrder)


@pytest.mark.parametrize(
    ("headers", "fields", "expected"),
    [
        ([("correlation-id", b"hdr")], {"CorrelationID": "fld", "MessageID": "msg"}, "hdr"),
        ([("other", b"x")], {"CorrelationID": "fld", "MessageID": "msg"}, "fld"),
        ([], {"MessageID": "msg"}, "msg"),
        ([], {}, "generated"),
        ([("correlation-id", b"")], {}, "generated"),
    ],
)
def test_correlation_id_precedence(headers, fields, expected) -> None:
    decision = run(order(**fields), headers)
    assert isinstance(decision, StartOrder)
    assert decision.input.correlation_id == expected


def test_a_correlation_id_that_breaks_the_rule_is_skipped_not_repaired() -> None:
    fields = MessageFields(correlation_id="fld", message_id="msg")
    assert choose_correlation_id([("correlation-id", b"x" * 1000)], fields, str) == "fld"
    assert choose_correlation_id([("correlation-id", b"ab\x00c")], fields, str) == "fld"
    blank_field = MessageFields(correlation_id="has space", message_id="msg")
    assert choose_correlation_id([], blank_field, str) == "msg"
    assert choose_correlation_id([], MessageFields(), lambda: "new") == "new"


def test_redriven_record_starts_a_later_attempt() -> None:
    decision = run(order(), [(dlq.H_REDRIVE_COUNT, b"2")])
    assert isinstance(decision, StartOrder)
    assert decision.input.attempt == 3


POISON = [
    pytest.param(b"not json", DlqStage.DESERIALIZE, id="not-json"),
    pytest.param(b"[1, 2]", DlqStage.DESERIALIZE, id="json-array"),
    pytest.param(b"null", DlqStage.DESERIALIZE, id="json-null"),
    pytest.param(b"", DlqStage.DESERIALIZE, id="empty"),
    pytest.param(None, DlqStage.DESERIALIZE, id="tombstone"),
    pytest.param(b"\xff\xfe{}", DlqStage.DESERIALIZE, id="invalid-utf8"),
    pytest.param(b"x" * (LIMIT + 1), DlqStage.DESERIALIZE, id="oversized"),
    pytest.param(b'{"ShipFromLocationID": "DC-07"}', DlqStage.SCHEMA, id="no-order-id"),
    pytest.param(b'{"OrderID": "bad id!"}', DlqStage.SCHEMA, id="unusable-order-id"),
    pytest.param(b'{"OrderID": "A-1", "SchemaVersion": "2.0"}', DlqStage.SCHEMA, id="v2"),
]


@pytest.mark.parametrize(("value", "stage"), POISON)
def test_poison_goes_to_the_dlq_with_original_bytes_and_headers(value, stage) -> None:
    decision = run(value, [("traceparent", b"00-abc"), ("correlation-id", b"c-9")], key=b"k")
    assert isinstance(decision, DeadLetterRecord)
    assert decision.topic == "order.create.v1.dlq"
    assert decision.key == b"k"
    assert decision.value == value  # untouched
    assert decision.stage is stage
    headers = header_map(decision.headers)
    assert headers[dlq.H_STAGE] == stage.value
    assert headers[dlq.H_ORIGINAL_TOPIC] == "order.create.v1"
    assert headers[dlq.H_ORIGINAL_PARTITION] == "2"
    assert headers[dlq.H_ORIGINAL_OFFSET] == "41"
    assert headers[dlq.H_ORIGINAL_TIMESTAMP] == "1700000"
    assert headers[dlq.H_FAILED_AT] == NOW.isoformat()
    assert headers[dlq.H_ATTEMPTS] == "1"
    assert headers[dlq.H_CORRELATION_ID] == "c-9"
    assert headers[dlq.H_ERROR_TYPE]
    # The producer's own headers travel with the record, once.
    assert headers["traceparent"] == "00-abc"
    assert [name for name, _ in decision.headers].count("correlation-id") == 1


def test_poison_error_message_never_echoes_the_payload() -> None:
    secret = "card-4111111111111111"
    decision = run(json.dumps({"OrderID": "A-1", "SchemaVersion": "9.0", "Note": secret}).encode())
    assert isinstance(decision, DeadLetterRecord)
    assert secret not in header_map(decision.headers)[dlq.H_ERROR_MESSAGE]


def test_schema_poison_keeps_the_messages_own_correlation_id() -> None:
    decision = run(
        json.dumps({"SchemaVersion": "2.0", "OrderID": "A", "MessageID": "m-7"}).encode()
    )
    assert isinstance(decision, DeadLetterRecord)
    assert decision.correlation_id == "m-7"


def test_undecodable_poison_gets_a_generated_correlation_id() -> None:
    decision = run(b"\xff")
    assert isinstance(decision, DeadLetterRecord)
    assert decision.correlation_id == "generated"


def test_each_redrive_selection_has_its_own_cursor_group() -> None:
    from bridges.redrive import RedriveFilter, redrive_group

    base = "orderflow-dlq-redrive"
    assert redrive_group(base, RedriveFilter()) == base
    assert redrive_group(base, RedriveFilter(stage="VALIDATE")) == base + ".stage-VALIDATE"
    assert (
        redrive_group(base, RedriveFilter(stage="PERSIST", order_id="A/1 b"))
        == base + ".stage-PERSIST.order-A_1_b"
    )


def test_the_records_own_headers_travel_in_the_workflow_input() -> None:
    """So the workflow's DLQ copy can keep them, as the bridge's does."""
    headers = [("trace-note", b"\xff\x00raw"), ("correlation-id", b"c-1"), ("trace-note", b"2")]
    decision = run(order(), headers=headers)
    assert isinstance(decision, StartOrder)
    assert decision.input.origin is not None
    assert decision.input.origin.headers == tuple(headers)
    # Through the workflow's (JSON) payload and back, byte for byte.
    again = type(decision.input).model_validate_json(decision.input.model_dump_json())
    assert again.origin is not None
    assert again.origin.headers == tuple(headers)


def test_dlq_header_names_in_the_original_headers_take_this_failures_values() -> None:
    headers = [("dlq.stage", b"VALIDATE"), ("app", b"kept"), ("dlq.redrive.count", b"1")]
    decision = run(b"not json", headers=headers)
    assert isinstance(decision, DeadLetterRecord)
    names = [name for name, _ in decision.headers]
    assert names.count("dlq.stage") == 1
    assert header_map(decision.headers)["dlq.stage"] == "DESERIALIZE"
    assert names[:2] == ["app", "dlq.redrive.count"]  # the producer's own, first, in order
