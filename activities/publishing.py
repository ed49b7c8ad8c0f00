"""Publishing activities: events to ``order.validation.v1`` / ``order.status.v1`` and dead
letters to the ``.dlq`` topics, through one shared producer per worker process.

Guarantees: a call returns only after the broker acknowledged the record (the producer is
created with ``acks=all``, and idempotent where the broker supports it). Delivery is at least
once: a retried activity may publish a record twice, so every event carries a deterministic
``EventID`` (built by the workflow, identical on every attempt) for consumers to drop
duplicates. Events are keyed by ``ShipFromLocationID`` (the order ID when there is none), so
one order's events stay in one partition, in order. Every record carries the
``correlation-id`` header.

Tracing: each publish is a ``{topic} publish`` span that ends when the broker acknowledged the
record (OpenTelemetry API; a no-op unless the worker configured tracing). Events
(``order.validation.v1``, ``order.status.v1``) carry that span's W3C ``traceparent`` header, so
a consumer continues the order's trace; a DLQ copy is sent with exactly the headers given here,
the original ones (``docs/decisions/0008-publish-spans-by-hand.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from temporalio import activity

from activities import names
from activities.log import activity_logger, current_order_id
from activities.models import PublishReceipt
from contracts.dlq import H_CORRELATION_ID, dlq_headers
from contracts.events import OrderStatusChangedV1, OrderValidationV1, event_key
from contracts.topics import ORDER_CREATE_V1, ORDER_STATUS_V1, ORDER_VALIDATION_V1, dlq_topic
from contracts.workflow_io import DeadLetter

H_EVENT_ID = "event-id"
_TRACE_CONTEXT = TraceContextTextMapPropagator()


class RecordSender(Protocol):
    """The part of ``aiokafka.AIOKafkaProducer`` the activities use (and tests can fake)."""

    async def send_and_wait(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any: ...


class PublishingActivities:
    """Publishes through a producer owned by the worker process (started and stopped there)."""

    def __init__(
        self, producer: RecordSender, *, tracer_provider: trace.TracerProvider | None = None
    ) -> None:
        self._producer = producer
        # None: the global provider (a no-op unless the worker configured tracing).
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)

    async def _send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]],
        propagate: bool = False,
    ) -> PublishReceipt:
        """Send and wait for the acknowledgement, in a publish span; ``propagate`` adds that
        span's ``traceparent`` (and ``tracestate``) headers to the record."""
        with self._tracer.start_as_current_span(
            f"{topic} publish",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": topic,
            },
        ) as span:
            if propagate:
                carrier: dict[str, str] = {}
                _TRACE_CONTEXT.inject(carrier)  # the active span: this publish span
                headers = headers + [(name, text.encode()) for name, text in carrier.items()]
            metadata = await self._producer.send_and_wait(
                topic, value=value, key=key, headers=headers
            )
            span.set_attribute("messaging.destination.partition.id", str(metadata.partition))
            span.set_attribute("messaging.kafka.offset", metadata.offset)
        return PublishReceipt(topic=topic, partition=metadata.partition, offset=metadata.offset)

    async def send_event(
        self, topic: str, event: OrderValidationV1 | OrderStatusChangedV1
    ) -> PublishReceipt:
        """An event as JSON, keyed by its location (else order), with correlation and event IDs."""
        return await self._send(
            topic,
            key=event_key(event.ShipFromLocationID, event.OrderID),
            value=event.model_dump_json().encode("utf-8"),
            headers=[
                (H_CORRELATION_ID, event.CorrelationID.encode("utf-8")),
                (H_EVENT_ID, event.EventID.encode("utf-8")),
            ],
            propagate=True,
        )

    @activity.defn(name=names.PUBLISH_VALIDATION_RESULT)
    async def publish_validation_result(self, event: OrderValidationV1) -> PublishReceipt:
        receipt = await self.send_event(ORDER_VALIDATION_V1, event)
        activity_logger(event.OrderID, event.CorrelationID).debug(
            "validation result published", event_id=event.EventID, valid=event.Valid
        )
        return receipt

    @activity.defn(name=names.PUBLISH_STATUS_EVENT)
    async def publish_status_event(self, event: OrderStatusChangedV1) -> PublishReceipt:
        receipt = await self.send_event(ORDER_STATUS_V1, event)
        activity_logger(event.OrderID, event.CorrelationID).debug(
            "status event published", event_id=event.EventID, to_status=event.ToStatus
        )
        return receipt

    @activity.defn(name=names.WRITE_DEAD_LETTER)
    async def write_dead_letter(self, letter: DeadLetter) -> PublishReceipt:
        """Write the original record, key, value and own headers untouched, to its topic's
        DLQ (as the bridge does)."""
        origin = letter.origin
        original_topic = origin.topic if origin else (letter.original_topic or ORDER_CREATE_V1)
        headers = dlq_headers(
            stage=letter.stage,
            error_type=letter.error_type,
            error_message=letter.error_message,
            original_topic=original_topic,
            original_partition=origin.partition if origin else None,
            original_offset=origin.offset if origin else None,
            original_timestamp_ms=origin.timestamp_ms if origin else None,
            failed_at=letter.failed_at or datetime.now(UTC),
            attempts=letter.attempts,
            correlation_id=letter.correlation_id,
            original_headers=origin.headers if origin else (),
        )
        receipt = await self._send(
            dlq_topic(original_topic),
            key=origin.key if origin else letter.key,
            value=letter.raw_message.encode("utf-8"),
            headers=headers,
        )
        activity_logger(current_order_id(), letter.correlation_id).warning(
            "message written to the DLQ",
            stage=letter.stage,
            error_type=letter.error_type,
            dlq_topic=receipt.topic,
            dlq_partition=receipt.partition,
            dlq_offset=receipt.offset,
        )
        return receipt
