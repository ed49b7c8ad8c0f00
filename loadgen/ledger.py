"""The accounting of a load-test run: what was sent, and what became of each record.

Records are matched to outcomes by the run's correlation IDs (``lt-{run}-{seq}``), which the
bridge and the workflow copy into every event and DLQ record. A record is *accounted* once it
reached a final outcome (Open, or a DLQ record); at-least-once delivery may repeat an outcome,
which is counted once (repeats of the same Open ``EventID`` are normal; two different Open
``EventID``s for one order would mean the order was opened twice, and are reported).
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass, field

from loadgen.orders import Kind, Outgoing, sequence_of

# Live percentiles come from a histogram with 1 % wide buckets: sorting every latency once a
# second would stall the sender at high rates. The final summary uses the exact values.
_BUCKET_GROWTH = math.log(1.01)


class Histogram:
    """Latencies in milliseconds, bucketed logarithmically (±1 %)."""

    def __init__(self) -> None:
        self._buckets: Counter[int] = Counter()
        self.count = 0

    def add(self, value_ms: float) -> None:
        self._buckets[int(math.log(max(value_ms, 1.0)) / _BUCKET_GROWTH)] += 1
        self.count += 1

    def quantile(self, q: float) -> float | None:
        if not self.count:
            return None
        rank = q * self.count
        seen = 0
        for bucket in sorted(self._buckets):
            seen += self._buckets[bucket]
            if seen >= rank:
                return math.exp((bucket + 1) * _BUCKET_GROWTH)
        return None  # unreachable: the last bucket always reaches the rank


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(slots=True)
class SentRecord:
    kind: Kind
    order_id: str
    expected_stage: str | None
    scheduled_s: float  # when the schedule wanted it sent (s after the start)
    sent_s: float  # when it was handed to the producer
    acked_s: float | None = None
    timestamp_ms: int | None = None  # the record's CreateTime, from the broker's answer
    partition: int | None = None
    offset: int | None = None
    error: str | None = None


@dataclass(slots=True)
class Outcome:
    open_event_ids: set[str] = field(default_factory=set)
    open_records: int = 0
    opened_ms: int | None = None  # timestamp of the first Open event record
    rejected: bool = False  # order.validation.v1 Valid=false
    dlq_stages: set[str] = field(default_factory=set)
    accounted_s: float | None = None


class Ledger:
    """Sent records and their outcomes for run ``run_id``; fed by the sender and observer."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.sent: dict[int, SentRecord] = {}
        self.outcomes: dict[int, Outcome] = {}
        self.latency = Histogram()
        self.accounted = 0
        self.acked = 0
        self.opened = 0
        self.rejected = 0
        self.dead_lettered: Counter[str] = Counter()
        self.foreign_records = 0  # outcome records of other runs, ignored
        # Set whenever every acknowledged record is accounted for.
        self.settled = asyncio.Event()

    # ------------------------------------------------------------------ sender side

    def on_sent(self, record: Outgoing, *, scheduled_s: float, sent_s: float) -> None:
        self.sent[record.seq] = SentRecord(
            kind=record.kind,
            order_id=record.order_id,
            expected_stage=record.expected_stage.value if record.expected_stage else None,
            scheduled_s=scheduled_s,
            sent_s=sent_s,
        )

    def on_acked(
        self, seq: int, *, at_s: float, timestamp_ms: int, partition: int, offset: int
    ) -> None:
        sent = self.sent[seq]
        sent.acked_s, sent.timestamp_ms = at_s, timestamp_ms
        sent.partition, sent.offset = partition, offset
        self.acked += 1
        self.settled.clear()

    def on_send_failed(self, seq: int, error: BaseException) -> None:
        self.sent[seq].error = f"{type(error).__name__}: {error}"

    # ------------------------------------------------------------------ observer side

    def _outcome(self, correlation: str | None) -> tuple[int, Outcome] | None:
        seq = sequence_of(self.run_id, correlation or "")
        if seq is None or seq not in self.sent:
            self.foreign_records += 1
            return None
        return seq, self.outcomes.setdefault(seq, Outcome())

    def _account(self, outcome: Outcome, at_s: float) -> None:
        if outcome.accounted_s is None:
            outcome.accounted_s = at_s
            self.accounted += 1
            if self.all_accounted():
                self.settled.set()

    def on_open(
        self, correlation: str | None, event_id: str, timestamp_ms: int, at_s: float
    ) -> None:
        found = self._outcome(correlation)
        if found is None:
            return
        seq, outcome = found
        outcome.open_records += 1
        outcome.open_event_ids.add(event_id)
        if outcome.opened_ms is None:
            outcome.opened_ms = timestamp_ms
            self.opened += 1
            created = self.sent[seq].timestamp_ms
            if created is not None:
                self.latency.add(timestamp_ms - created)
        self._account(outcome, at_s)

    def on_rejected(self, correlation: str | None) -> None:
        found = self._outcome(correlation)
        if found is not None and not found[1].rejected:
            found[1].rejected = True
            self.rejected += 1

    def on_dead_letter(self, correlation: str | None, stage: str, at_s: float) -> None:
        found = self._outcome(correlation)
        if found is None:
            return
        _, outcome = found
        if stage not in outcome.dlq_stages:
            outcome.dlq_stages.add(stage)
            self.dead_lettered[stage] += 1
        self._account(outcome, at_s)

    # ------------------------------------------------------------------ questions

    @property
    def in_flight(self) -> int:
        """Acknowledged by the broker, no final outcome seen yet."""
        # An outcome can be read a moment before its record's acknowledgement is processed.
        return max(0, self.acked - self.accounted)

    def all_accounted(self) -> bool:
        return self.accounted >= self.acked

    def open_latencies(self) -> list[tuple[float, float]]:
        """(send time, Kafka -> Open ms) of every opened order, in send order. Kafka -> Open is
        the Open event record's timestamp minus the order record's timestamp."""
        pairs = []
        for seq, outcome in self.outcomes.items():
            sent = self.sent[seq]
            if outcome.opened_ms is not None and sent.timestamp_ms is not None:
                pairs.append((sent.sent_s, float(outcome.opened_ms - sent.timestamp_ms)))
        return sorted(pairs)

    def latencies_ms(self) -> list[float]:
        """Kafka -> Open of every opened order, ascending."""
        return sorted(latency for _, latency in self.open_latencies())

    def missing(self) -> list[int]:
        """Acknowledged records without a final outcome."""
        return sorted(
            seq
            for seq, sent in self.sent.items()
            if sent.acked_s is not None and self._accounted_s(seq) is None
        )

    def _accounted_s(self, seq: int) -> float | None:
        outcome = self.outcomes.get(seq)
        return outcome.accounted_s if outcome else None

    def unexpected(self) -> list[tuple[int, str]]:
        """Records whose outcome differs from what their kind should produce."""
        found = []
        for seq, outcome in self.outcomes.items():
            if outcome.accounted_s is None:
                continue
            expected = self.sent[seq].expected_stage
            if expected is None and outcome.dlq_stages:
                found.append((seq, f"valid order dead-lettered ({', '.join(outcome.dlq_stages)})"))
            elif expected is not None and outcome.opened_ms is not None:
                found.append((seq, f"expected DLQ stage {expected}, but the order opened"))
            elif expected is not None and expected not in outcome.dlq_stages:
                got = ", ".join(sorted(outcome.dlq_stages))
                found.append((seq, f"expected DLQ stage {expected}, got {got}"))
        return sorted(found)

    def opened_twice(self) -> list[int]:
        """Orders with more than one distinct Open EventID (a second workflow for one order)."""
        return sorted(s for s, o in self.outcomes.items() if len(o.open_event_ids) > 1)
