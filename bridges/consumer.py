"""The bridge's consumer loop: ``order.create.v1`` -> one ``OrderWorkflow`` start per record.

Guarantees (at least once, no loss):

* An offset is committed only after the record's side effect is confirmed: Temporal accepted
  the workflow start, or answered that the order's workflow already exists (a duplicate,
  counted), or the broker acknowledged the record's copy on ``order.create.v1.dlq``. Commits
  are explicit ``{partition: offset + 1}`` maps, per partition, of the highest position below
  which every record is done (:mod:`bridges.offsets`); ``commit()`` without offsets is never
  called.
* Up to ``max_in_flight`` records are handled at once. A bad record (not JSON, no OrderID, …)
  is decided in :mod:`bridges.handler` and goes to the DLQ, so it never stalls its partition.
* Temporal unavailable or rate-limited: the record is retried with jittered back-off, never
  dropped, and fetching is paused on every partition until starts succeed again. The same for
  a DLQ write while the broker refuses it, for any reason including the record's size (the copy
  is never emptied or truncated to fit). Nothing is committed past such a record meanwhile.
* On rebalance, revoked partitions get a short grace for their in-flight records, then their
  finished positions are committed. On stop (SIGTERM): fetching stops, in-flight records get a
  grace period, those still unconfirmed are abandoned *uncommitted* (delivered again later,
  harmlessly: the workflow ID dedups), and what is done is committed.
* An unexpected error (a bug) stops the bridge after committing what is done: the record that
  failed stays uncommitted, so nothing is lost and the failure is loud.

Tracing: each record is one span ``{topic} process`` (Kafka coordinates, order ID, outcome).
When the record carries a W3C ``traceparent`` header, the span continues the producer's trace
(the header's span is its parent). The workflow start is its child, so with Temporal's tracing
interceptor the workflow and its activities join the record's trace.

Metrics (:mod:`bridges.metrics`): records by outcome, dead letters by DLQ topic and stage, the
record-to-start latency of every started workflow, and — refreshed by :mod:`bridges.lag`, also
while paused — the consumer lag and the age of the oldest unprocessed record per partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from aiokafka.structs import OffsetAndMetadata
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from temporalio.client import Client

from bridges.backoff import Circuit, StopRequestedError, guarded, retry_until_done
from bridges.handler import DeadLetterRecord, RecordCoordinates, StartOrder, dead_letter, decide
from bridges.lag import LagMonitor
from bridges.metrics import BridgeMetrics
from bridges.offsets import PartitionOffsets
from bridges.starter import (
    StartFunction,
    StartOutcome,
    StartRejectedError,
    is_transient,
    start_order,
)
from bridges.status import BridgeStatus
from contracts.dlq import DlqStage
from contracts.limits import MAX_MESSAGE_BYTES
from contracts.topics import ORDER_CREATE_V1
from contracts.workflow_io import OrderWorkflowOptions

log = structlog.get_logger("orderflow.bridge")
T = TypeVar("T")


@dataclass(frozen=True)
class BridgeConfig:
    topic: str = ORDER_CREATE_V1
    max_in_flight: int = 64
    max_message_bytes: int = MAX_MESSAGE_BYTES
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    poll_timeout_ms: int = 500
    commit_interval_s: float = 0.2
    shutdown_grace_s: float = 10.0
    revoke_grace_s: float = 5.0
    # How often consumer lag and the oldest record's age are refreshed (a ListOffsets request).
    lag_interval_s: float = 5.0
    workflow_options: OrderWorkflowOptions = field(default_factory=OrderWorkflowOptions)


# dlq.error.type of a start Temporal refuses as invalid (the name the README documents).
WORKFLOW_START_REJECTED = "WorkflowStartRejected"


def _broker_transient(error: BaseException) -> bool:
    # MessageSizeTooLargeError included: a DLQ copy is never emptied to fit (see
    # _write_dead_letter), so a refusal is waited out like an unavailable broker.
    return isinstance(error, KafkaError)


_TRACE_CONTEXT = TraceContextTextMapPropagator()


def producer_context(headers: Iterable[tuple[str, bytes]]) -> Context:
    """The trace context a producer put in the record's W3C ``traceparent``/``tracestate``
    headers (an empty context when there is none, or it is malformed)."""
    carrier = {name.lower(): value.decode("latin-1") for name, value in headers if value}
    return _TRACE_CONTEXT.extract(carrier)


class OrderBridge:
    """Consumes ``order.create.v1`` and starts one workflow per order (see module docstring)."""

    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        client: Client,
        start: StartFunction,
        config: BridgeConfig,
        metrics: BridgeMetrics,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        tracer_provider: trace.TracerProvider | None = None,
        status: BridgeStatus | None = None,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._client = client
        self._start = start
        self._config = config
        self._metrics = metrics
        self._now = now
        # None: the global provider (a no-op unless the entry point configured tracing).
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._offsets = PartitionOffsets()
        self._lag = LagMonitor(consumer, self._offsets, metrics, interval_s=config.lag_interval_s)
        metrics.declare_topic(config.topic)
        self._tasks: set[asyncio.Task[None]] = set()
        # Temporal (starts) and the broker (DLQ writes): while either fails, fetching pauses.
        self._temporal = Circuit()
        self._broker = Circuit()
        self._fatal: BaseException | None = None
        self._last_commit = 0.0
        self._stop = asyncio.Event()
        # What the readiness probe reads (group membership and assignment).
        self.status = status or BridgeStatus()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then shut down as described above and return.

        The consumer and producer must be started by the caller, and are left running.
        """
        self._stop = stop
        self._consumer.subscribe([self._config.topic], listener=_CommitOnRevoke(self))
        lag = asyncio.create_task(self._lag.run(), name="bridge-lag")
        try:
            while not stop.is_set() and self._fatal is None:
                await self._poll_once()
        finally:
            lag.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag
            await self._shutdown()
        if self._fatal is not None:
            raise self._fatal

    # ------------------------------------------------------------------ loop

    async def _poll_once(self) -> None:
        free = self._config.max_in_flight - len(self._tasks)
        if not self._failing() and free <= 0:
            # Full: wait for a slot. The loop comes back well within max.poll.interval.
            await asyncio.wait(
                self._tasks,
                timeout=self._config.poll_timeout_ms / 1000,
                return_when=asyncio.FIRST_COMPLETED,
            )
            await self._commit_ready()
            return
        self._pause_while_failing()
        batch = await self._consumer.getmany(
            timeout_ms=self._config.poll_timeout_ms, max_records=max(free, 1)
        )
        for partition, records in batch.items():
            for record in records:
                self._offsets.take(partition, record.offset, record.timestamp)
                task = asyncio.create_task(self._handle(partition, record))
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
        self._metrics.in_flight.set(len(self._tasks))
        await self._commit_ready()

    def _failing(self) -> bool:
        return self._temporal.failing or self._broker.failing

    def _pause_while_failing(self) -> None:
        """Stop fetching while anything backs off; resume once everything recovered."""
        assigned = self._consumer.assignment()
        if self._failing():
            newly = assigned - self._consumer.paused()
            if newly:
                self._consumer.pause(*newly)
                self._metrics.paused.set(1)
                log.warning("bridge.paused", partitions=len(newly))
        elif self._consumer.paused():
            self._consumer.resume(*self._consumer.paused())
            self._metrics.paused.set(0)
            log.info("bridge.resumed")

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._metrics.in_flight.set(len(self._tasks))
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not isinstance(error, StopRequestedError):
            log.error("bridge.unexpected_error", error=repr(error), exc_info=error)
            self._fatal = self._fatal or error

    # ------------------------------------------------------------------ one record

    async def _handle(
        self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        """One record in its own span (messaging semantic conventions), continuing the
        producer's trace when the record carries one; see :meth:`_process`."""
        with self._tracer.start_as_current_span(
            f"{record.topic} process",
            context=producer_context(record.headers or ()),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": record.topic,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ) as span:
            await self._process(partition, record, span)

    async def _process(
        self, partition: TopicPartition, record: ConsumerRecord[bytes, bytes], span: trace.Span
    ) -> None:
        coordinates = RecordCoordinates(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp,
        )
        headers = list(record.headers or ())
        decision = decide(
            key=record.key,
            value=record.value,
            headers=headers,
            coordinates=coordinates,
            max_message_bytes=self._config.max_message_bytes,
            received_at=self._now(),
            workflow_options=self._config.workflow_options,
        )
        bound = log.bind(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            correlation_id=decision.correlation_id
            if isinstance(decision, DeadLetterRecord)
            else decision.input.correlation_id,
        )
        if isinstance(decision, StartOrder):
            span.set_attribute("orderflow.order_id", decision.input.order_id)
            span.set_attribute("orderflow.correlation_id", decision.input.correlation_id)
            try:
                outcome = await self._retrying(
                    "start",
                    functools.partial(start_order, self._client, decision, self._start),
                    is_transient,
                    self._temporal,
                )
            except StartRejectedError as rejected:
                decision = dead_letter(
                    key=record.key,
                    value=record.value,
                    headers=headers,
                    coordinates=coordinates,
                    stage=DlqStage.SCHEMA,
                    error_type=WORKFLOW_START_REJECTED,
                    error_message=str(rejected),
                    correlation_id=decision.input.correlation_id,
                    failed_at=self._now(),
                )
            else:
                span.set_attribute("orderflow.outcome", outcome.value)
                self._metrics.records.labels(outcome=outcome.value).inc()
                if outcome is StartOutcome.STARTED and record.timestamp is not None:
                    self._metrics.start_latency.observe(
                        max(time.time() - record.timestamp / 1000, 0)
                    )
                # DEBUG: at a thousand records a second a line per record is the bridge's biggest
                # CPU cost and a log bill; the outcome is counted (orderflow_bridge_records_total)
                # and traced, and the worker logs each order's opening.
                bound.debug(
                    f"bridge.workflow_{outcome.value}",
                    order_id=decision.input.order_id,
                    workflow_id=decision.workflow_id,
                )
                self._offsets.finish(partition, record.offset)
                return
        await self._retrying(
            "dlq_write",
            functools.partial(self._write_dead_letter, decision),
            _broker_transient,
            self._broker,
        )
        span.set_attribute("orderflow.outcome", "dead_lettered")
        span.set_attribute("orderflow.dlq.stage", decision.stage.value)
        self._metrics.records.labels(outcome="dead_lettered").inc()
        self._metrics.dead_letters.labels(topic=decision.topic, stage=decision.stage.value).inc()
        bound.warning(
            "bridge.dead_lettered",
            stage=decision.stage.value,
            error_type=decision.error_type,
            error=decision.error_message,
        )
        self._offsets.finish(partition, record.offset)

    async def _write_dead_letter(self, letter: DeadLetterRecord) -> None:
        """The copy, value and key byte for byte. If the DLQ topic (or this producer) refuses
        its size, the write fails like any broker failure: the record backs off, fetching
        pauses, nothing is committed past it, and this ERROR line alerts until the DLQ topic
        takes it (``provisioning.topics`` sizes DLQ topics for their source's largest record)."""
        try:
            await self._producer.send_and_wait(
                letter.topic, value=letter.value, key=letter.key, headers=letter.headers
            )
        except MessageSizeTooLargeError:
            log.error(
                "bridge.dead_letter_refused_as_too_large",
                topic=letter.topic,
                value_bytes=len(letter.value or b""),
                header_bytes=sum(len(name) + len(raw) for name, raw in letter.headers),
            )
            raise

    async def _retrying(
        self,
        operation: str,
        call: Callable[[], Awaitable[T]],
        transient: Callable[[BaseException], bool],
        circuit: Circuit,
    ) -> T:
        """``call`` until it succeeds, backing off on transient failures, through ``circuit``."""

        def on_failure(error: BaseException, wait_s: float) -> None:
            self._metrics.transient_failures.labels(operation=operation).inc()
            log.warning(
                "bridge.transient_failure",
                operation=operation,
                error=repr(error),
                retry_in_s=round(wait_s, 2),
            )

        return await retry_until_done(
            functools.partial(guarded, call, circuit, is_transient=transient, stop=self._stop),
            is_transient=transient,
            initial_s=self._config.backoff_initial_s,
            max_s=self._config.backoff_max_s,
            stop=self._stop,
            on_failure=on_failure,
        )

    # ------------------------------------------------------------------ commits

    async def _commit_ready(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_commit < self._config.commit_interval_s:
            return
        await self._commit(self._consumer.assignment())

    async def _commit(self, partitions: Iterable[TopicPartition]) -> None:
        """Commit the finished positions of ``partitions`` (explicit offsets only)."""
        positions = self._offsets.committable(partitions)
        if not positions:
            return
        self._last_commit = time.monotonic()
        try:
            await self._consumer.commit(
                {tp: OffsetAndMetadata(offset, "") for tp, offset in positions.items()}
            )
        except KafkaError as error:
            # Rebalancing or coordinator moved: the records are delivered again, harmlessly.
            log.warning("bridge.commit_failed", error=repr(error))
            return
        self._offsets.mark_committed(positions)
        self._metrics.commits.inc()

    # ------------------------------------------------------------------ rebalance, stop

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Give revoked partitions' in-flight records a short grace, then commit them."""
        deadline = time.monotonic() + self._config.revoke_grace_s
        while self._offsets.in_flight(revoked) and self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait(self._tasks, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        self.status.revoked()
        await self._commit(revoked)
        self._offsets.forget(revoked)
        self._lag.forget(revoked)
        log.info("bridge.partitions_revoked", partitions=sorted(str(tp) for tp in revoked))

    def on_assigned(self, assigned: set[TopicPartition]) -> None:
        self.status.assigned(assigned)
        self._metrics.assigned_partitions.set(len(assigned))
        log.info("bridge.partitions_assigned", partitions=sorted(str(tp) for tp in assigned))

    async def _shutdown(self) -> None:
        """Stop fetching, let in-flight records finish briefly, abandon the rest, commit."""
        self._stop.set()  # wakes every back-off wait: those records are abandoned uncommitted
        assigned = self._consumer.assignment()
        if assigned:
            self._consumer.pause(*assigned)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._config.shutdown_grace_s)
        abandoned = [task for task in self._tasks if not task.done()]
        for task in abandoned:
            task.cancel()
        await asyncio.gather(*abandoned, return_exceptions=True)
        await self._commit(assigned)
        log.info(
            "bridge.stopped",
            abandoned=len(abandoned),
            uncommitted=self._offsets.in_flight(),
        )


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, bridge: OrderBridge) -> None:
        self._bridge = bridge

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._bridge.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._bridge.on_assigned(assigned)
