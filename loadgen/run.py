"""One load-test run: observe, send on schedule, wait for the outcomes, summarize.

Order of events: the observer and the lag reader start first and position themselves at the
ends of the outcome topics (so only this run's outcomes count); then the records go out on
schedule while a ticker reports progress; after the last acknowledgement the run waits until
every record is accounted for, or ``wait_s`` has passed, and builds the :class:`Summary`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts.topics import BRIDGE_CONSUMER_GROUP, ORDER_CREATE_V1
from loadgen.lag import GroupLag
from loadgen.ledger import Ledger
from loadgen.observer import OutcomeObserver
from loadgen.orders import OrderFactory, OrderMix
from loadgen.report import Summary, summarize
from loadgen.sender import send_all


def new_run_id() -> str:
    return secrets.token_hex(4)


@dataclass(frozen=True)
class LoadPlan:
    """``count`` records at ``rate`` per second (None: all at once)."""

    count: int
    rate: float | None
    mix: OrderMix = field(default_factory=OrderMix)
    topic: str = ORDER_CREATE_V1
    # How long to wait for outcomes after the last record was acknowledged.
    wait_s: float = 120.0
    # The bridge's consumer group, whose lag the progress line shows (None: don't read it).
    group: str | None = BRIDGE_CONSUMER_GROUP
    run_id: str = field(default_factory=new_run_id)
    order_prefix: str = "LT"


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    planned: int
    due: int
    sent: int
    acknowledged: int
    opened: int
    rejected: int
    dead_lettered: int
    in_flight: int
    lag: int | None
    p99_ms: float | None
    sending: bool

    def line(self) -> str:
        lag = "?" if self.lag is None else str(self.lag)
        p99 = "-" if self.p99_ms is None else f"{self.p99_ms:.0f} ms"
        behind = self.due - self.sent
        late = f" ({behind} behind schedule)" if self.sending and behind > 0 else ""
        return (
            f"[{self.elapsed_s:6.1f}s] sent {self.sent}/{self.planned}{late}  "
            f"opened {self.opened}  rejected {self.rejected}  dlq {self.dead_lettered}  "
            f"in flight {self.in_flight}  lag {lag}  p99 {p99}"
        )


@dataclass(frozen=True)
class Kafka:
    """aiokafka options: producer, consumer (its group is ignored) and admin client."""

    producer: dict[str, Any]
    consumer: dict[str, Any]
    admin: dict[str, Any]


async def run_load(
    plan: LoadPlan,
    kafka: Kafka,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every_s: float = 1.0,
) -> Summary:
    ledger = Ledger(plan.run_id)
    start = time.monotonic()

    def clock() -> float:
        return time.monotonic() - start

    known_ends: dict[int, int] = {}
    observer = OutcomeObserver(kafka.consumer, source_topic=plan.topic, ledger=ledger, clock=clock)
    lag = GroupLag(kafka.admin, kafka.consumer, group=plan.group) if plan.group else None
    producer = AIOKafkaProducer(**kafka.producer)
    ticker: asyncio.Task[None] | None = None
    sending = True
    last_lag: list[int | None] = [None]
    try:
        await observer.start()
        if lag is not None:
            await lag.start()
        await producer.start()

        async def tick() -> None:
            while True:
                await asyncio.sleep(progress_every_s)
                if lag is not None:
                    last_lag[0] = await lag.read(plan.topic, known_ends)
                if on_progress is not None:
                    on_progress(_progress(plan, ledger, clock(), last_lag[0], sending=sending))

        ticker = asyncio.create_task(tick())
        start = time.monotonic()  # the schedule starts now, after the clients are ready
        await send_all(
            producer,
            plan.topic,
            OrderFactory(plan.run_id, plan.mix, order_prefix=plan.order_prefix),
            ledger,
            count=plan.count,
            rate=plan.rate,
            clock=clock,
            known_ends=known_ends,
        )
        sending = False
        if not ledger.all_accounted():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ledger.settled.wait(), timeout=plan.wait_s)
        final_lag = await lag.read(plan.topic, known_ends) if lag is not None else None
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        await producer.stop()
        await observer.stop()
        if lag is not None:
            await lag.stop()
    if on_progress is not None:
        on_progress(_progress(plan, ledger, clock(), final_lag, sending=False))
    return summarize(
        ledger,
        topic=plan.topic,
        planned=plan.count,
        rate=plan.rate,
        lag_at_end=final_lag,
        absent_topics=observer.absent_topics,
    )


def _progress(
    plan: LoadPlan, ledger: Ledger, elapsed: float, lag: int | None, *, sending: bool
) -> Progress:
    due = plan.count if plan.rate is None else min(plan.count, int(elapsed * plan.rate) + 1)
    return Progress(
        elapsed_s=elapsed,
        planned=plan.count,
        due=due,
        sent=len(ledger.sent),
        acknowledged=ledger.acked,
        opened=ledger.opened,
        rejected=ledger.rejected,
        dead_lettered=sum(ledger.dead_lettered.values()),
        in_flight=ledger.in_flight,
        lag=lag,
        p99_ms=ledger.latency.quantile(0.99),
        sending=sending,
    )
