"""Consumer lag and oldest-unprocessed age per partition (bridges.lag), against a fake consumer
whose answers the test sets, and a clock the test moves."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import CollectorRegistry

from bridges.lag import LagMonitor
from bridges.metrics import BridgeMetrics
from bridges.offsets import PartitionOffsets
from tests.helpers.waiting import eventually

TOPIC = "order.create.v1"
P0 = TopicPartition(TOPIC, 0)
P1 = TopicPartition(TOPIC, 1)
T0 = 1_700_000_000.0  # wall-clock seconds


@dataclass
class FakeConsumer:
    """The part of AIOKafkaConsumer the monitor uses."""

    assigned: set[TopicPartition] = field(default_factory=lambda: {P0, P1})
    listed_ends: dict[TopicPartition, int] = field(default_factory=dict)
    highwaters: dict[TopicPartition, int] = field(default_factory=dict)
    group_committed: dict[TopicPartition, int] = field(default_factory=dict)
    starts: dict[TopicPartition, int] = field(default_factory=dict)
    broker_down: bool = False
    committed_calls: int = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.broker_down:
            raise KafkaTimeoutError
        return {tp: self.listed_ends.get(tp, 0) for tp in partitions}

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {tp: self.starts.get(tp, 0) for tp in partitions}

    async def committed(self, tp: TopicPartition) -> int | None:
        self.committed_calls += 1
        return self.group_committed.get(tp)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters.get(tp)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def monitor(consumer: FakeConsumer) -> tuple[LagMonitor, PartitionOffsets, BridgeMetrics, Clock]:
    offsets = PartitionOffsets()
    metrics = BridgeMetrics.create(CollectorRegistry())
    clock = Clock()
    lag = LagMonitor(consumer, offsets, metrics, interval_s=1.0, clock=clock)
    return lag, offsets, metrics, clock


def value(metrics: BridgeMetrics, name: str, partition: int) -> float | None:
    return metrics.registry.get_sample_value(name, {"topic": TOPIC, "partition": str(partition)})


def lag_of(metrics: BridgeMetrics, partition: int) -> float | None:
    return value(metrics, "orderflow_bridge_consumer_lag", partition)


def age_of(metrics: BridgeMetrics, partition: int) -> float | None:
    return value(metrics, "orderflow_bridge_oldest_unprocessed_age_seconds", partition)


async def test_lag_is_the_end_minus_the_committed_position() -> None:
    consumer = FakeConsumer(listed_ends={P0: 10, P1: 5}, group_committed={P0: 4}, starts={P1: 2})
    lag, offsets, metrics, _ = monitor(consumer)
    await lag.refresh()
    assert lag_of(metrics, 0) == 6  # the group's committed offset
    assert lag_of(metrics, 1) == 3  # never committed: from the partition's first offset
    assert age_of(metrics, 0) == 0.0  # nothing seen yet: the stuck clock starts now

    offsets.take(P0, 4)
    offsets.finish(P0, 4)
    offsets.mark_committed(offsets.committable())
    await lag.refresh()
    assert lag_of(metrics, 0) == 5  # this bridge's own commit wins
    assert consumer.committed_calls == 2  # the group's offsets are read once per assignment


async def test_a_fetch_high_watermark_corrects_a_short_listed_end() -> None:
    """tansu 0.6 lists the last batch's base offset + 1 as the end."""
    consumer = FakeConsumer(listed_ends={P0: 8}, highwaters={P0: 12}, group_committed={P0: 0})
    lag, _, metrics, _ = monitor(consumer)
    await lag.refresh()
    assert lag_of(metrics, 0) == 12


async def test_the_oldest_uncommitted_record_gives_the_age() -> None:
    consumer = FakeConsumer(listed_ends={P0: 3}, group_committed={P0: 0})
    lag, offsets, metrics, clock = monitor(consumer)
    offsets.take(P0, 0, timestamp_ms=int((T0 - 30) * 1000))
    offsets.take(P0, 1, timestamp_ms=int((T0 - 10) * 1000))
    await lag.refresh()
    assert age_of(metrics, 0) == 30.0

    clock.now += 5  # still not done: it keeps ageing
    await lag.refresh()
    assert age_of(metrics, 0) == 35.0

    offsets.finish(P0, 0)
    offsets.mark_committed(offsets.committable())
    await lag.refresh()
    assert age_of(metrics, 0) == 15.0  # the next one


async def test_paused_with_nothing_fetched_the_age_grows_from_when_the_lag_was_seen() -> None:
    consumer = FakeConsumer(listed_ends={P0: 0}, group_committed={P0: 0})
    lag, _, metrics, clock = monitor(consumer)
    await lag.refresh()
    assert (lag_of(metrics, 0), age_of(metrics, 0)) == (0, 0.0)

    consumer.listed_ends[P0] = 4  # records arrive; the paused bridge does not fetch them
    clock.now += 1
    await lag.refresh()
    assert (lag_of(metrics, 0), age_of(metrics, 0)) == (4, 0.0)
    for seconds in (10, 20):
        clock.now += 10
        consumer.listed_ends[P0] += 1
        await lag.refresh()
        assert age_of(metrics, 0) == seconds
    assert lag_of(metrics, 0) == 6


async def test_a_moving_commit_restarts_the_stuck_clock() -> None:
    """Under steady load lag stays above 0 between fetches; progress keeps the age small."""
    consumer = FakeConsumer(listed_ends={P0: 2}, group_committed={P0: 0})
    lag, offsets, metrics, clock = monitor(consumer)
    await lag.refresh()
    for offset in range(2, 6):
        clock.now += 10
        offsets.take(P0, offset - 2)
        offsets.finish(P0, offset - 2)
        offsets.mark_committed(offsets.committable())
        consumer.listed_ends[P0] = offset + 1
        await lag.refresh()
        assert age_of(metrics, 0) == 0.0, offset


async def test_a_broker_that_does_not_answer_keeps_the_last_lag_and_ages_on() -> None:
    consumer = FakeConsumer(listed_ends={P0: 5}, group_committed={P0: 0})
    lag, _, metrics, clock = monitor(consumer)
    await lag.refresh()
    consumer.broker_down = True
    clock.now += 30
    await lag.refresh()
    assert (lag_of(metrics, 0), age_of(metrics, 0)) == (5, 30.0)


async def test_revoked_partitions_lose_their_series() -> None:
    consumer = FakeConsumer(listed_ends={P0: 5, P1: 5})
    lag, _, metrics, _ = monitor(consumer)
    await lag.refresh()
    assert lag_of(metrics, 1) == 5
    consumer.assigned = {P0}
    await lag.refresh()
    assert lag_of(metrics, 1) is None
    assert age_of(metrics, 1) is None
    assert lag_of(metrics, 0) == 5


async def test_an_unexpected_failure_does_not_stop_the_refreshes() -> None:
    calls = 0

    class Flaky(FakeConsumer):
        async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("a bug somewhere below")
            return await super().end_offsets(partitions)

    consumer = Flaky(listed_ends={P0: 7, P1: 0}, group_committed={P0: 0, P1: 0})
    offsets = PartitionOffsets()
    metrics = BridgeMetrics.create(CollectorRegistry())
    task = asyncio.create_task(LagMonitor(consumer, offsets, metrics, interval_s=0.01).run())

    async def exported() -> bool:
        return lag_of(metrics, 0) == 7

    try:
        await eventually(exported, timeout_s=5, what="a refresh after the failed one")
    finally:
        task.cancel()
    assert calls >= 2
