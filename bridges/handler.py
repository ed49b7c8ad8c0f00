"""The bridge's decision for one Kafka record: start an order workflow, or dead-letter it.

Pure: bytes, headers and coordinates in; a :class:`StartOrder` or a :class:`DeadLetterRecord`
out. No I/O, no clock, no randomness of its own (the caller passes ``received_at`` and an ID
generator), so every outcome is unit-testable and the consumer loop stays about I/O only.

What goes to the DLQ here (``order.create.v1.dlq``): empty or oversized values, bytes that are
not UTF-8 JSON, JSON that is not an object (stage ``DESERIALIZE``); objects without a usable
``OrderID`` or with an unknown major ``SchemaVersion`` (stage ``SCHEMA``). Everything else
becomes a workflow start; the workflow validates the order fully. The value is parsed here
once: the start carries what was read (location, line count, total) to the starter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts import dlq
from contracts.correlation import accepted_correlation_id, new_correlation_id
from contracts.ids import workflow_id
from contracts.order_create_v1.envelope import (
    MessageFields,
    PoisonMessage,
    loads_object,
    parse_envelope,
    read_fields,
)
from contracts.topics import dlq_topic
from contracts.workflow_io import KafkaOrigin, OrderWorkflowInput, OrderWorkflowOptions

Headers = Sequence[tuple[str, bytes]]

# The header a producer may set for the correlation ID (it wins over the message's fields).
CORRELATION_HEADER = dlq.H_CORRELATION_ID


@dataclass(frozen=True)
class RecordCoordinates:
    """Where a record sits in Kafka; copied into DLQ headers and the workflow input."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class StartOrder:
    """Start ``OrderWorkflow`` for this order (the ID is ``order-{OrderID}``).

    ``fields`` is what the handler read from the message, leniently (it is not validated yet):
    the starter sets the search attributes and the Web UI's summary from it.
    """

    input: OrderWorkflowInput
    fields: MessageFields

    @property
    def workflow_id(self) -> str:
        return workflow_id(self.input.order_id)


@dataclass(frozen=True)
class DeadLetterRecord:
    """Write this record to ``topic``: original key and value untouched, DLQ headers added."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    stage: dlq.DlqStage
    error_type: str
    error_message: str
    correlation_id: str


Decision = StartOrder | DeadLetterRecord


def header_text(headers: Headers, name: str) -> str | None:
    """The last non-empty value of header ``name`` as text (invalid UTF-8 replaced), or None."""
    found: str | None = None
    for header_name, value in headers:
        if header_name == name and value:
            text = value.decode("utf-8", "replace").strip()
            found = text or found
    return found


def redrive_count(headers: Headers) -> int:
    """How many times ``orderflow dlq redrive`` has put this record back (0 when never)."""
    text = header_text(headers, dlq.H_REDRIVE_COUNT)
    return int(text) if text is not None and text.isdigit() else 0


def choose_correlation_id(
    headers: Headers, fields: MessageFields, new_id: Callable[[], str]
) -> str:
    """Header ``correlation-id``, else the ``CorrelationID`` field, else ``MessageID``, else new.

    Each candidate must pass the contract's one rule (:mod:`contracts.correlation`, the same the
    API applies to ``X-Correlation-ID``); one that does not is skipped, not repaired.
    """
    candidates = (
        header_text(headers, CORRELATION_HEADER),
        fields.correlation_id,
        fields.message_id,
    )
    for candidate in candidates:
        accepted = accepted_correlation_id(candidate)
        if accepted is not None:
            return accepted
    return new_id()


def _poison_fields(value: bytes | None, max_bytes: int) -> MessageFields:
    """What can still be read from a poison record that is a JSON object (its IDs)."""
    return read_fields(loads_object(value) if value and len(value) <= max_bytes else None)


def dead_letter(
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    coordinates: RecordCoordinates,
    stage: dlq.DlqStage,
    error_type: str,
    error_message: str,
    correlation_id: str,
    failed_at: datetime,
) -> DeadLetterRecord:
    """The DLQ record for a record the bridge cannot start a workflow for.

    The producer's own headers are kept (so a re-drive gives them back), except the names the
    DLQ header set owns, which are replaced by this failure's values.
    """
    dlq_part = dlq.dlq_headers(
        stage=stage,
        error_type=error_type,
        error_message=error_message,
        original_topic=coordinates.topic,
        original_partition=coordinates.partition,
        original_offset=coordinates.offset,
        original_timestamp_ms=coordinates.timestamp_ms,
        failed_at=failed_at,
        attempts=1,
        correlation_id=correlation_id,
        original_headers=headers,
    )
    return DeadLetterRecord(
        topic=dlq_topic(coordinates.topic),
        key=key,
        value=value,
        headers=dlq_part,
        stage=stage,
        error_type=error_type,
        error_message=dlq.truncate_error_message(error_message),
        correlation_id=correlation_id,
    )


def decide(
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    coordinates: RecordCoordinates,
    max_message_bytes: int,
    received_at: datetime,
    workflow_options: OrderWorkflowOptions | None = None,
    new_id: Callable[[], str] = new_correlation_id,
) -> Decision:
    """Turn one ``order.create.v1`` record into a workflow start or a DLQ record.

    ``workflow_options`` (retry budget, return window) travel in the workflow input; the
    contract's defaults when None. Never raises for bad input: every way a value can be wrong
    ends as a DLQ record.
    """
    try:
        envelope = parse_envelope(value, max_bytes=max_message_bytes)
    except PoisonMessage as poison:
        return dead_letter(
            key=key,
            value=value,
            headers=headers,
            coordinates=coordinates,
            stage=poison.stage,
            error_type=poison.error_type,
            error_message=poison.message,
            correlation_id=choose_correlation_id(
                headers, _poison_fields(value, max_message_bytes), new_id
            ),
            failed_at=received_at,
        )
    assert value is not None  # parse_envelope rejects None
    correlation_id = choose_correlation_id(headers, envelope.fields, new_id)
    workflow_input = OrderWorkflowInput(
        order_id=envelope.order_id,
        correlation_id=correlation_id,
        # parse_envelope decoded it successfully, so this cannot fail.
        raw_message=value.decode("utf-8"),
        origin=KafkaOrigin(
            topic=coordinates.topic,
            partition=coordinates.partition,
            offset=coordinates.offset,
            timestamp_ms=coordinates.timestamp_ms,
            key=key,
            headers=tuple(headers),
        ),
        message_id=envelope.fields.message_id,
        received_at=received_at,
        attempt=redrive_count(headers) + 1,
        options=workflow_options or OrderWorkflowOptions(),
    )
    return StartOrder(input=workflow_input, fields=envelope.fields)
