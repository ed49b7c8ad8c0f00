"""What a burst left behind, per order: database rows, bytes and WAL, log lines and bytes, and
the Kafka records it produced - the inputs of the cost model besides CPU and Temporal actions.

Each is a before/after difference read *outside* the CPU window (the snapshots themselves cost
the database and the broker CPU the orders did not), so :func:`benchmarks.pipeline_variant`
takes them just before its first and just after its last CPU snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.dlq import H_CORRELATION_ID
from loadgen.observer import assign_at_end, header

TABLES = ("orders", "order_lines", "order_status_history")
# An empty fetch round this long after the burst means every record of it was read.
DRAIN_IDLE_MS = 2000


@dataclass(frozen=True)
class DbState:
    rows: dict[str, int]
    # Heap, indexes and TOAST of each order table; grows by whole pages, so read it per
    # thousands of orders. An UPDATE leaves the old row version behind until vacuum makes its
    # space reusable: a status change grows ``orders`` by a row now, not in the long run.
    bytes: dict[str, int]
    wal_lsn: str


async def db_state(engine: AsyncEngine) -> DbState:
    counts = ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)
    sizes = ", ".join(f"pg_total_relation_size('{t}')" for t in TABLES)
    async with engine.connect() as conn:
        row = (await conn.execute(text(f"SELECT {counts}, {sizes}, pg_current_wal_lsn()"))).one()
    n = len(TABLES)
    return DbState(
        rows=dict(zip(TABLES, row[:n], strict=True)),
        bytes=dict(zip(TABLES, row[n : 2 * n], strict=True)),
        wal_lsn=row[2 * n],
    )


async def db_growth(
    engine: AsyncEngine, before: DbState, after: DbState, per: int
) -> dict[str, Any]:
    """Rows by table, bytes and WAL bytes per unit of work (``per`` orders or changes)."""
    async with engine.connect() as conn:
        wal = (
            await conn.execute(
                text("SELECT pg_wal_lsn_diff(:a, :b)"), {"a": after.wal_lsn, "b": before.wal_lsn}
            )
        ).scalar_one()
    n = max(1, per)
    return {
        "rows": {t: round((after.rows[t] - before.rows[t]) / n, 3) for t in TABLES},
        "bytes": round(sum(after.bytes[t] - before.bytes[t] for t in TABLES) / n, 1),
        "bytes_by_table": {t: round((after.bytes[t] - before.bytes[t]) / n, 1) for t in TABLES},
        "wal_bytes": round(float(wal) / n, 1),
    }


def log_sizes(paths: dict[str, Path]) -> dict[str, tuple[int, int]]:
    """Process name -> (bytes, lines) of its log file so far."""
    sizes = {}
    for name, path in paths.items():
        data = path.read_bytes() if path.exists() else b""
        sizes[name] = (len(data), data.count(b"\n"))
    return sizes


def log_growth(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], per: int
) -> dict[str, dict[str, float]]:
    """Log bytes and lines each process wrote per unit of work."""
    n = max(1, per)
    return {
        name: {
            "bytes": round((after[name][0] - before[name][0]) / n, 1),
            "lines": round((after[name][1] - before[name][1]) / n, 3),
        }
        for name in before
    }


def record_bytes(record: ConsumerRecord[bytes, bytes]) -> int:
    """A record's key, value and headers as produced (what the broker stores and serves)."""
    headers = sum(len(k) + len(v or b"") for k, v in record.headers or ())
    return len(record.key or b"") + len(record.value or b"") + headers


@dataclass
class KafkaBytes:
    """Bytes and records per topic that carry a correlation ID of a prefix, produced between
    :meth:`mark` and :meth:`read` (no fetch in between: the broker's CPU is being measured).

    Records are also told apart by their timestamp (CreateTime, this machine's clock): tansu
    0.6 reports a partition's end inside its last batch, so reading from "the end" can return
    older records of the same run.
    """

    consumer_options: dict[str, Any]
    topics: tuple[str, ...]
    bytes: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    _consumer: AIOKafkaConsumer | None = None
    _since_ms: int = 0

    async def mark(self) -> None:
        self._since_ms = int(time.time() * 1000)
        self._consumer = AIOKafkaConsumer(
            **{**self.consumer_options, "group_id": None, "enable_auto_commit": False}
        )
        await self._consumer.start()
        await assign_at_end(self._consumer, self.topics)

    async def read(self, prefix: str) -> None:
        assert self._consumer is not None, "mark() first"
        try:
            while True:
                batch = await self._consumer.getmany(timeout_ms=DRAIN_IDLE_MS)
                if not batch:
                    return
                for records in batch.values():
                    for record in records:
                        correlation = header(record.headers, H_CORRELATION_ID) or ""
                        if correlation.startswith(prefix) and record.timestamp >= self._since_ms:
                            self.bytes[record.topic] += record_bytes(record)
                            self.records[record.topic] += 1
        finally:
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer.stop()

    def per(self, n: int) -> dict[str, dict[str, float]]:
        count = max(1, n)
        return {
            topic: {
                "bytes": round(self.bytes[topic] / count, 1),
                "records": round(self.records[topic] / count, 3),
            }
            for topic in self.topics
        }
