"""Sends a run's records on schedule: ``rate`` records per second, or all at once (burst).

The schedule is absolute (record *i* is due ``i / rate`` seconds after the start), so a slow
moment is not silently forgiven: when the producer falls behind (its buffer full, the broker
slow to answer, this machine's CPU busy) records go out late, and the ledger keeps both the due
time and the actual send time of each — the summary compares them to tell "the producer could
not send fast enough" from "the system did not keep up".
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from loadgen.ledger import Ledger
from loadgen.orders import OrderFactory

# In a burst, let the observer and progress tasks run now and then.
_YIELD_EVERY = 200


async def send_all(
    producer: AIOKafkaProducer,
    topic: str,
    factory: OrderFactory,
    ledger: Ledger,
    *,
    count: int,
    rate: float | None,
    clock: Callable[[], float],
    known_ends: dict[int, int],
) -> None:
    """Send ``count`` records; returns once the broker answered for every one of them.

    ``known_ends`` is kept at partition -> highest acknowledged offset + 1.
    """
    pending: set[asyncio.Future[RecordMetadata]] = set()

    def acked(seq: int, future: asyncio.Future[RecordMetadata]) -> None:
        pending.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            ledger.on_send_failed(seq, error)
            return
        meta = future.result()
        known_ends[meta.partition] = max(known_ends.get(meta.partition, 0), meta.offset + 1)
        ledger.on_acked(
            seq,
            at_s=clock(),
            timestamp_ms=meta.timestamp,
            partition=meta.partition,
            offset=meta.offset,
        )

    seq = 0
    while seq < count:
        now = clock()
        due = count if rate is None else min(count, math.floor(now * rate) + 1)
        while seq < due:
            record = factory.make(seq)
            ledger.on_sent(record, scheduled_s=0.0 if rate is None else seq / rate, sent_s=clock())
            try:
                future = await producer.send(
                    topic, value=record.value, key=record.key, headers=record.headers
                )
            except KafkaError as error:  # e.g. too large: recorded, the run goes on
                ledger.on_send_failed(seq, error)
            else:
                pending.add(future)
                future.add_done_callback(lambda f, s=seq: acked(s, f))
            seq += 1
            if seq % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        if rate is not None and seq < count:
            await asyncio.sleep(max(0.0, seq / rate - clock()))
    if pending:
        await asyncio.wait(set(pending))
