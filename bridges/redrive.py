"""DLQ tooling: list dead letters, and re-drive them onto their original topic.

Re-drive guarantees:

* A record is republished to the topic named in its ``dlq.original.topic`` header with its
  original key and value (or a corrected value the operator supplies) and its headers minus
  the DLQ diagnostics, plus ``dlq.redrive.count`` (previous count + 1) and the same
  ``correlation-id``.
* Progress is kept in a consumer group per selection (:func:`redrive_group`): after each record
  the group's offset is committed past it, only once the broker acknowledged the republished
  copy. A crash therefore never re-drives a record twice with the same selection; at worst the
  one record in flight at the crash is republished again, which the order's workflow ID makes
  harmless.
* Each selection has its own cursor, so a filtered run (``--stage`` / ``--order-id``) never
  hides the records it passed over from other runs: an unfiltered run still offers them. A
  record re-driven by a filtered run and again by a later broader run reaches the bridge
  twice; the second copy is a counted duplicate of the order's workflow (or, if that run
  failed again, a new attempt) — never a second order. ``--dry-run`` moves no cursor.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from bridges.handler import header_text, redrive_count
from contracts import dlq
from contracts.order_create_v1.envelope import loads_object, read_fields

# DLQ diagnostics are dropped on re-drive; the correlation ID stays so tracing continues.
_DROPPED_ON_REDRIVE = (set(dlq.DLQ_HEADER_NAMES) - {dlq.H_CORRELATION_ID}) | {dlq.H_REDRIVE_COUNT}


@dataclass(frozen=True)
class DeadLetterEntry:
    """One record of a DLQ topic, with what the tooling reads from it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetterEntry:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp_ms=record.timestamp,
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
        )

    @property
    def stage(self) -> str | None:
        return header_text(self.headers, dlq.H_STAGE)

    @property
    def original_topic(self) -> str | None:
        return header_text(self.headers, dlq.H_ORIGINAL_TOPIC)

    @property
    def order_id(self) -> str | None:
        """The ``OrderID`` of the value when it is a JSON object that has one (best effort)."""
        return read_fields(loads_object(self.value)).order_id

    def describe(self, *, value_chars: int = 300) -> dict[str, Any]:
        """A JSON-ready view for ``orderflow dlq list``."""
        value = None if self.value is None else self.value.decode("utf-8", "replace")
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "key": None if self.key is None else self.key.decode("utf-8", "replace"),
            "order_id": self.order_id,
            "headers": dlq.header_map(list(self.headers)),
            "value_bytes": None if self.value is None else len(self.value),
            "value": value
            if value is None or len(value) <= value_chars
            else value[:value_chars] + "…",
        }


@dataclass(frozen=True)
class RedriveFilter:
    stage: str | None = None
    order_id: str | None = None

    def group_suffix(self) -> str:
        """``""`` for everything, else e.g. ``.stage-VALIDATE.order-ORD-1`` (group-name safe)."""
        parts = [
            f"stage-{self.stage}" if self.stage else "",
            f"order-{self.order_id}" if self.order_id else "",
        ]
        return "".join("." + re.sub(r"[^A-Za-z0-9._:-]", "_", part) for part in parts if part)

    def matches(self, entry: DeadLetterEntry) -> bool:
        if self.stage is not None and entry.stage != self.stage:
            return False
        return self.order_id is None or entry.order_id == self.order_id


def redrive_group(base_group: str, selection: RedriveFilter) -> str:
    """The consumer group that holds the cursor of one selection of records."""
    return base_group + selection.group_suffix()


def redrive_headers(headers: Sequence[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The original headers (DLQ diagnostics removed) plus the incremented redrive count."""
    kept = [(name, value) for name, value in headers if name not in _DROPPED_ON_REDRIVE]
    return [*kept, (dlq.H_REDRIVE_COUNT, str(redrive_count(headers) + 1).encode())]


@dataclass
class RedriveReport:
    redriven: list[DeadLetterEntry]
    passed_over: int = 0
    unroutable: int = 0


async def _assign_all(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[TopicPartition]:
    known = await consumer.topics()
    partitions = [
        TopicPartition(topic, number)
        for topic in topics
        if topic in known
        for number in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    return partitions


async def _records_until_end(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record from each partition's position up to its end, then stop.

    The end is the larger of the listed end offset and the high watermark of the fetches:
    some Kafka-protocol brokers (tansu 0.6) list the base offset of the last batch + 1 as the
    end, and a fetch reports the real one.
    """
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)

    async def at_end(tp: TopicPartition) -> bool:
        end = max(ends[tp], consumer.highwater(tp) or 0)
        return bool(await consumer.position(tp) >= end)

    open_partitions = {tp for tp in partitions if not await at_end(tp)}
    while open_partitions:
        batch = await consumer.getmany(*open_partitions, timeout_ms=1000)
        for records in batch.values():
            for record in records:
                yield record
        for tp in list(open_partitions):
            if await at_end(tp):
                open_partitions.discard(tp)


async def list_dead_letters(
    consumer_options: dict[str, Any], topics: Sequence[str], *, limit: int
) -> list[DeadLetterEntry]:
    """Up to ``limit`` records of ``topics``, from the beginning; commits nothing."""
    options = {**consumer_options, "group_id": None, "enable_auto_commit": False}
    consumer = AIOKafkaConsumer(**options)
    await consumer.start()
    entries: list[DeadLetterEntry] = []
    try:
        partitions = await _assign_all(consumer, topics)
        await consumer.seek_to_beginning(*partitions)
        async for record in _records_until_end(consumer, partitions):
            entries.append(DeadLetterEntry.of(record))
            if len(entries) >= limit:
                break
    finally:
        await consumer.stop()
    return sorted(entries, key=lambda e: (e.topic, e.partition, e.offset))


async def redrive_dead_letters(
    *,
    consumer_options: dict[str, Any],
    producer_options: dict[str, Any],
    topics: Sequence[str],
    selection: RedriveFilter,
    dry_run: bool,
    replacement_value: bytes | None = None,
    on_entry: Callable[[DeadLetterEntry, str], None] = lambda entry, action: None,
) -> RedriveReport:
    """Re-drive the matching records after the group's cursor (see the module docstring).

    ``consumer_options`` must name the re-drive group and disable auto-commit.
    ``on_entry(entry, action)`` reports each record examined: ``redriven``,
    ``would-redrive``, ``passed-over`` or ``unroutable``.
    """
    if consumer_options.get("enable_auto_commit", True):
        raise ValueError("the re-drive consumer must not auto-commit")
    consumer = AIOKafkaConsumer(**consumer_options)
    producer = AIOKafkaProducer(**producer_options)
    report = RedriveReport(redriven=[])
    await consumer.start()
    try:
        if not dry_run:
            await producer.start()
        partitions = await _assign_all(consumer, topics)
        async for record in _records_until_end(consumer, partitions):
            entry = DeadLetterEntry.of(record)
            action = await _redrive_one(entry, producer, selection, dry_run, replacement_value)
            if action in ("redriven", "would-redrive"):
                report.redriven.append(entry)
            elif action == "unroutable":
                report.unroutable += 1
            else:
                report.passed_over += 1
            on_entry(entry, action)
            if not dry_run:
                tp = TopicPartition(record.topic, record.partition)
                await consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "")})
    finally:
        await consumer.stop()
        await producer.stop()
    return report


async def _redrive_one(
    entry: DeadLetterEntry,
    producer: AIOKafkaProducer,
    selection: RedriveFilter,
    dry_run: bool,
    replacement_value: bytes | None,
) -> str:
    if not selection.matches(entry):
        return "passed-over"
    target = entry.original_topic
    if not target:
        return "unroutable"
    if dry_run:
        return "would-redrive"
    await producer.send_and_wait(
        target,
        value=entry.value if replacement_value is None else replacement_value,
        key=entry.key,
        headers=redrive_headers(entry.headers),
    )
    return "redriven"
