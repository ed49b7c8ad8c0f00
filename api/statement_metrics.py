"""Database query time for Prometheus: the top statements by total execution time, read from
``pg_stat_statements`` by the API process every ``interval_s`` (30 s by default).

Why the API: it is a long-running process with its own engine and ``/metrics``, it has no hot
path that a periodic query would slow down (unlike the worker's activities), and one reader is
enough because the numbers are database-wide (every API replica exports the same values; the
dashboards take ``max``/``sum by statement``, and a single replica's series would do).

The ``statement`` label is short and bounded: the normalised statement text (parameters are
already ``$1``-placeholders in pg_stat_statements) collapsed and cut to 60 characters, plus the
low 32 bits of its ``queryid`` in hex, so two statements with the same beginning stay apart.
Only the top 10 are exported, so at most 10 series per metric at a time.

When the extension is not installed or not loaded, the collector exports nothing and logs that
once (``orderflow db stats`` says what to do about it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import structlog
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.stats import SlowStatement, top_statements_by_total_time

log = structlog.get_logger("orderflow.api.statements")

TOP_STATEMENTS = 10
_LABEL_TEXT_LENGTH = 60


def statement_label(statement: SlowStatement) -> str:
    """``SELECT orders.order_id, … FROM orders WHERE … #1a2b3c4d`` (see the module doc)."""
    text = " ".join(statement.query.split())
    if len(text) > _LABEL_TEXT_LENGTH:
        text = text[: _LABEL_TEXT_LENGTH - 1].rstrip() + "…"
    if statement.queryid is None:
        return text
    return f"{text} #{statement.queryid & 0xFFFFFFFF:08x}"


class StatementMetrics(Collector):
    """``orderflow_db_statement_calls_total`` / ``..._time_seconds_total`` by statement."""

    def __init__(self, *, limit: int = TOP_STATEMENTS) -> None:
        self._limit = limit
        self._statements: tuple[SlowStatement, ...] = ()
        self._said_unavailable = False

    async def refresh(self, engine: AsyncEngine) -> None:
        """Read the current top statements (replacing the previous ones)."""
        async with engine.connect() as connection:
            statements, note = await top_statements_by_total_time(connection, limit=self._limit)
        if note is not None and not self._said_unavailable:
            log.warning("statement metrics unavailable", reason=note)
            self._said_unavailable = True
        self._statements = statements

    async def run(self, engine: AsyncEngine, interval_s: float) -> None:
        """Refresh every ``interval_s`` until cancelled; a failed read keeps the last values."""
        while True:
            try:
                await self.refresh(engine)
            except (SQLAlchemyError, OSError) as error:
                log.warning("statement metrics not refreshed", error=repr(error))
            await asyncio.sleep(interval_s)

    def collect(self) -> Iterator[Metric]:
        if not self._statements:
            return
        calls: dict[str, float] = {}
        seconds: dict[str, float] = {}
        for statement in self._statements:
            # The same statement can appear once per database user: one series each label.
            label = statement_label(statement)
            calls[label] = calls.get(label, 0) + statement.calls
            seconds[label] = seconds.get(label, 0) + statement.total_ms / 1000
        calls_family = CounterMetricFamily(
            "orderflow_db_statement_calls",
            "Calls of the top 10 statements by total time (pg_stat_statements).",
            labels=["statement"],
        )
        time_family = CounterMetricFamily(
            "orderflow_db_statement_time_seconds",
            "Total execution time of the top 10 statements by total time (pg_stat_statements).",
            labels=["statement"],
        )
        for label in calls:
            calls_family.add_metric([label], calls[label])
            time_family.add_metric([label], seconds[label])
        yield calls_family
        yield time_family
