"""What the bridge's readiness probe asks: is this member doing its job in the group?

Ready means the consumer has joined ``orderflow-bridge`` and holds its assignment. A member that
joined a group with more members than partitions gets an *empty* assignment: it is ready too —
a warm standby that takes partitions over at the next rebalance — because marking it unready
would make the orchestrator restart a healthy process in a loop. During a rebalance (revoked,
not yet re-assigned) the member is not ready.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from probes.checks import NotReadyError


@dataclass
class BridgeStatus:
    member: bool = False
    partitions: frozenset[TopicPartition] = field(default_factory=frozenset)

    def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        self.member = True
        self.partitions = frozenset(partitions)

    def revoked(self) -> None:
        self.member = False
        self.partitions = frozenset()

    async def check(self) -> None:
        """Raises :class:`NotReadyError` unless the consumer holds its (possibly empty) share."""
        if not self.member:
            raise NotReadyError("no partition assignment yet (joining the consumer group)")
