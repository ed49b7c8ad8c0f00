"""Which offset each partition may commit while several records are handled at once.

Records of one partition finish out of order (starts run concurrently). Kafka keeps a single
committed position per partition, meaning "everything below is done", so the position we may
commit is the lowest offset still in flight, or one past the highest offset taken when nothing
is in flight. A record that is finished but sits above an unfinished one is committed later,
together with it; after a crash it is delivered again, which the workflow ID makes harmless.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiokafka import TopicPartition

P = TypeVar("P")


@dataclass
class _PartitionState:
    # Offsets taken and not finished, in the order taken (= ascending, Kafka delivers in order).
    pending: OrderedDict[int, None] = field(default_factory=OrderedDict)
    next_offset: int | None = None  # one past the highest offset taken
    committed: int | None = None  # the last position committed (or known committed)
    # (offset, Kafka timestamp in ms) of records taken and not yet committed, in offset order:
    # how old the oldest unprocessed record is (orderflow_bridge_oldest_unprocessed_age_seconds).
    uncommitted: deque[tuple[int, int]] = field(default_factory=deque)

    def position(self) -> int | None:
        if self.pending:
            return next(iter(self.pending))
        return self.next_offset


class OffsetTracker(Generic[P]):
    """Per-partition bookkeeping of taken and finished offsets; no I/O.

    ``P`` is the partition key (aiokafka's :class:`TopicPartition` in the bridge).
    """

    def __init__(self) -> None:
        self._partitions: dict[P, _PartitionState] = {}

    def take(self, partition: P, offset: int, timestamp_ms: int | None = None) -> None:
        """A record was handed to a handler; its offset must not be committed past yet.

        ``timestamp_ms``: the record's Kafka timestamp, kept until its offset is committed.
        """
        state = self._partitions.setdefault(partition, _PartitionState())
        state.pending[offset] = None
        if timestamp_ms is not None:
            state.uncommitted.append((offset, timestamp_ms))
        if state.next_offset is None or offset + 1 > state.next_offset:
            state.next_offset = offset + 1

    def finish(self, partition: P, offset: int) -> None:
        """The record's side effect is done (workflow started, duplicate, or DLQ written).

        Finishing an offset that is not pending (its partition was revoked meanwhile) is a no-op.
        """
        state = self._partitions.get(partition)
        if state is not None:
            state.pending.pop(offset, None)

    def in_flight(self, partitions: Iterable[P] | None = None) -> int:
        """How many records are taken and not finished (in ``partitions``, or in all)."""
        chosen = self._partitions if partitions is None else partitions
        return sum(len(s.pending) for p in chosen if (s := self._partitions.get(p)))

    def committable(self, partitions: Iterable[P] | None = None) -> dict[P, int]:
        """Positions that moved since the last commit: ``{partition: next offset to read}``."""
        chosen = list(self._partitions if partitions is None else partitions)
        ready: dict[P, int] = {}
        for partition in chosen:
            state = self._partitions.get(partition)
            if state is None:
                continue
            position = state.position()
            if position is not None and (state.committed is None or position > state.committed):
                ready[partition] = position
        return ready

    def mark_committed(self, positions: dict[P, int]) -> None:
        for partition, position in positions.items():
            state = self._partitions.get(partition)
            if state is not None and (state.committed is None or position > state.committed):
                state.committed = position
                while state.uncommitted and state.uncommitted[0][0] < position:
                    state.uncommitted.popleft()

    def committed(self, partition: P) -> int | None:
        """The position last committed for ``partition`` by this tracker (None: not yet)."""
        state = self._partitions.get(partition)
        return None if state is None else state.committed

    def oldest_uncommitted_timestamp_ms(self, partition: P) -> int | None:
        """Kafka timestamp of the lowest taken offset not yet committed (None: there is none)."""
        state = self._partitions.get(partition)
        if state is None or not state.uncommitted:
            return None
        return state.uncommitted[0][1]

    def forget(self, partitions: Iterable[P]) -> None:
        """Drop revoked partitions; late finishes for them are ignored."""
        for partition in partitions:
            self._partitions.pop(partition, None)


# The bridge's concrete tracker.
PartitionOffsets = OffsetTracker[TopicPartition]
