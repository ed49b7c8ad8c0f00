"""Consumer lag of the bridge's group on the source topic, for the live progress line.

Lag = end offset - committed offset, summed over the partitions. The end offset is the larger
of what the broker lists and what this run's own acknowledged records prove (tansu 0.6 lists
the last batch's base offset + 1, not the end). Partitions the group never committed count from
their beginning. Any error (no permission to describe groups, a broker without the API) makes
the lag unreadable (None) rather than failing the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


class GroupLag:
    def __init__(
        self, admin_options: dict[str, Any], consumer_options: dict[str, Any], *, group: str
    ) -> None:
        self._admin = AIOKafkaAdminClient(**admin_options)
        self._consumer = AIOKafkaConsumer(
            **{**consumer_options, "group_id": None, "enable_auto_commit": False}
        )
        self._group = group
        self._started = False

    async def start(self) -> None:
        try:
            await self._admin.start()
            await self._consumer.start()
        except KafkaError:
            return
        self._started = True

    async def stop(self) -> None:
        with contextlib.suppress(KafkaError):
            await self._consumer.stop()
            await self._admin.close()

    async def read(self, topic: str, known_ends: Mapping[int, int]) -> int | None:
        """The group's lag on ``topic``; ``known_ends``: partition -> an offset known to exist
        + 1 (from this run's acknowledgements). None when unreadable."""
        if not self._started:
            return None
        try:
            numbers = self._consumer.partitions_for_topic(topic) or set()
            if not numbers:
                await self._consumer.topics()
                numbers = self._consumer.partitions_for_topic(topic) or set()
            partitions = [TopicPartition(topic, p) for p in sorted(numbers)]
            if not partitions:
                return None
            committed = await self._admin.list_consumer_group_offsets(
                self._group, partitions=partitions
            )
            ends = await self._consumer.end_offsets(partitions)
            starts = await self._consumer.beginning_offsets(partitions)
        except (KafkaError, OSError):
            return None
        lag = 0
        for tp in partitions:
            end = max(ends.get(tp, 0), known_ends.get(tp.partition, 0))
            position = committed.get(tp)
            done = position.offset if position is not None and position.offset >= 0 else starts[tp]
            lag += max(0, end - done)
        return lag
