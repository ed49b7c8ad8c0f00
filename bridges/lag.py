"""Consumer lag and the age of the oldest unprocessed record, per assigned partition.

Refreshed every ``interval_s`` by a task of the bridge (:meth:`LagMonitor.run`), also while
fetching is paused — which is exactly when they matter.

* **Lag** = end of the partition - the group's committed position. The end is the larger of the
  broker's listed end offset (a ListOffsets request, answered also while the partition is
  paused) and the high watermark of the consumer's last fetch: some Kafka-protocol brokers
  (tansu 0.6) list the base offset of the last batch + 1, which a fetch corrects. The committed
  position is the one this bridge last committed, else the group's committed offset read once
  per assignment, else the partition's first offset (a group that never committed reads from the
  beginning).
* **Oldest unprocessed age** = now - the Kafka timestamp of the lowest offset taken but not yet
  committed (a record in flight, or finished and awaiting the next commit). When the partition
  has lag but no such record — the bridge is paused and has not fetched the new records, so
  their timestamps are unknown without fetching them — the age counts from the moment this
  monitor first saw that lag without the committed position moving since: a lower bound of the
  true age (short by at most the records' age at that moment plus one interval) that keeps
  growing for as long as the partition is stuck. With no lag and nothing uncommitted it is 0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from bridges.metrics import BridgeMetrics
from bridges.offsets import PartitionOffsets

log = structlog.get_logger("orderflow.bridge")


@dataclass
class _Stuck:
    """Since when a partition has shown lag with nothing fetched, at which committed position."""

    since: float
    committed: int


class LagMonitor:
    """Exports ``orderflow_bridge_consumer_lag`` and ``..._oldest_unprocessed_age_seconds``."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        offsets: PartitionOffsets,
        metrics: BridgeMetrics,
        *,
        interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._consumer = consumer
        self._offsets = offsets
        self._metrics = metrics
        self._interval_s = interval_s
        self._clock = clock
        self._ends: dict[TopicPartition, int] = {}
        # The group's committed position (or the partition's start), read once per assignment.
        self._group_positions: dict[TopicPartition, int] = {}
        self._stuck: dict[TopicPartition, _Stuck] = {}
        self._exported: set[TopicPartition] = set()

    async def run(self) -> None:
        """Refresh every ``interval_s`` until cancelled. A failure is logged and the next
        refresh tried: metrics must neither stop the bridge nor silently stop themselves."""
        while True:
            try:
                await self.refresh()
            except Exception as error:
                log.warning("bridge.lag_refresh_failed", error=repr(error), exc_info=error)
            await asyncio.sleep(self._interval_s)

    def forget(self, partitions: Collection[TopicPartition]) -> None:
        """Partitions revoked: their series go away (another bridge now reports them)."""
        for tp in partitions:
            self._ends.pop(tp, None)
            self._group_positions.pop(tp, None)
            self._stuck.pop(tp, None)
            if tp in self._exported:
                self._exported.discard(tp)
                labels = (tp.topic, str(tp.partition))
                self._metrics.consumer_lag.remove(*labels)
                self._metrics.oldest_unprocessed_age.remove(*labels)

    async def refresh(self) -> None:
        """Ask the broker for the partitions' ends, then export lag and age."""
        assigned = set(self._consumer.assignment())
        self.forget(self._exported - assigned)
        if not assigned:
            return
        try:
            await self._read_positions(assigned)
        except (KafkaError, AssertionError, ValueError) as error:
            # Broker unreachable or a rebalance in progress: keep the last ends; the ages
            # below still move with the clock.
            log.debug("bridge.lag_refresh_failed", error=repr(error))
        now = self._clock()
        for tp in assigned:
            self._export(tp, now)

    async def _read_positions(self, assigned: set[TopicPartition]) -> None:
        listed: dict[TopicPartition, int] = await self._consumer.end_offsets(list(assigned))
        self._ends.update(listed)
        unknown = [
            tp
            for tp in assigned
            if self._offsets.committed(tp) is None and tp not in self._group_positions
        ]
        if not unknown:
            return
        starts: dict[TopicPartition, int] = await self._consumer.beginning_offsets(unknown)
        for tp in unknown:
            committed = await self._consumer.committed(tp)
            self._group_positions[tp] = committed if committed is not None else starts[tp]

    def _export(self, tp: TopicPartition, now: float) -> None:
        committed = self._offsets.committed(tp)
        if committed is None:
            committed = self._group_positions.get(tp)
        end = max(self._ends.get(tp, 0), self._consumer.highwater(tp) or 0)
        if committed is None:
            return  # not known yet: no series rather than a wrong one
        lag = max(end - committed, 0)
        oldest_ms = self._offsets.oldest_uncommitted_timestamp_ms(tp)
        if oldest_ms is not None:
            self._stuck.pop(tp, None)
            age = max(now - oldest_ms / 1000, 0.0)
        elif lag > 0:
            stuck = self._stuck.get(tp)
            if stuck is None or stuck.committed != committed:
                stuck = self._stuck[tp] = _Stuck(since=now, committed=committed)
            age = now - stuck.since
        else:
            self._stuck.pop(tp, None)
            age = 0.0
        labels = (tp.topic, str(tp.partition))
        self._metrics.consumer_lag.labels(*labels).set(lag)
        self._metrics.oldest_unprocessed_age.labels(*labels).set(age)
        self._exported.add(tp)
