"""Reads what the pipeline produced for a run: Open events, validation results, dead letters.

One consumer without a group (nothing is committed, no other consumer is disturbed) is
assigned every partition of ``order.status.v1``, ``order.validation.v1`` and the source topic's
DLQ, positioned at their ends *before* the first record is sent. Records of other runs are
skipped by their ``correlation-id`` header before any JSON is parsed, so the observer keeps up
in an environment that carries other traffic (staging).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from contracts.dlq import H_CORRELATION_ID, H_STAGE
from contracts.status import INITIAL_STATUS
from contracts.topics import ORDER_STATUS_V1, ORDER_VALIDATION_V1, dlq_topic
from loadgen.ledger import Ledger
from loadgen.orders import correlation_prefix

Headers = Sequence[tuple[str, bytes]]


def header(headers: Headers | None, name: str) -> str | None:
    """The last value of header ``name`` as text, or None."""
    found = None
    for key, value in headers or ():
        if key == name and value is not None:
            found = value.decode("utf-8", "replace")
    return found


async def assign_at_end(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> list[str]:
    """Assign every partition of ``topics`` (those that exist) at its current end; returns the
    topics that do not exist."""
    await consumer.topics()  # refresh metadata
    partitions: list[TopicPartition] = []
    absent = []
    for topic in topics:
        numbers = consumer.partitions_for_topic(topic)
        if not numbers:
            absent.append(topic)
            continue
        partitions += [TopicPartition(topic, p) for p in sorted(numbers)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:  # resolve the positions now, before anything is sent
        await consumer.position(tp)
    return absent


class OutcomeObserver:
    """Feeds ``ledger`` with the outcomes of its run until :meth:`stop`."""

    def __init__(
        self,
        consumer_options: dict[str, Any],
        *,
        source_topic: str,
        ledger: Ledger,
        clock: Callable[[], float],
        fetch_max_wait_ms: int = 100,
    ) -> None:
        """``fetch_max_wait_ms``: how long the broker may hold an empty fetch. Latencies come
        from record timestamps, so it only bounds how late the observer *notices* an outcome;
        a longer wait costs the broker fewer idle fetches (the benchmark measures its CPU)."""
        self._consumer = AIOKafkaConsumer(
            **{
                **consumer_options,
                "group_id": None,
                "enable_auto_commit": False,
                "fetch_max_wait_ms": fetch_max_wait_ms,
            }
        )
        self._dlq = dlq_topic(source_topic)
        self._topics = (ORDER_STATUS_V1, ORDER_VALIDATION_V1, self._dlq)
        self._ledger = ledger
        self._clock = clock
        self._prefix = correlation_prefix(ledger.run_id)
        self._task: asyncio.Task[None] | None = None
        self.absent_topics: list[str] = []

    async def start(self) -> None:
        await self._consumer.start()
        self.absent_topics = await assign_at_end(self._consumer, self._topics)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    self._take(record)

    def _take(self, record: ConsumerRecord[bytes, bytes]) -> None:
        correlation = header(record.headers, H_CORRELATION_ID)
        if correlation is None or not correlation.startswith(self._prefix):
            return
        now = self._clock()
        if record.topic == self._dlq:
            stage = header(record.headers, H_STAGE) or "UNKNOWN"
            self._ledger.on_dead_letter(correlation, stage, now)
            return
        try:
            event = json.loads(record.value or b"")
        except ValueError:
            return
        if record.topic == ORDER_STATUS_V1 and event.get("ToStatus") == INITIAL_STATUS:
            self._ledger.on_open(correlation, str(event.get("EventID")), record.timestamp, now)
        elif record.topic == ORDER_VALIDATION_V1 and event.get("Valid") is False:
            self._ledger.on_rejected(correlation)
