"""The connection pool of a process's engine as Prometheus metrics.

A collector reads the pool when Prometheus scrapes (``checkedout()``, ``overflow()``,
``size()``: what the pool knows at that instant), so nothing runs on the query path. Checkout
time-outs are counted by the pool class :func:`timeout_counting_pool` builds, because
SQLAlchemy has no pool event for them: the time-out is raised inside ``QueuePool._do_get``,
which that subclass wraps (a test exhausts a real pool to prove it still catches them).

    metrics = PoolMetrics(max_overflow=10)
    engine = create_engine(url, max_overflow=10, on_pool_timeout=metrics.count_timeout)
    metrics.watch(engine)
    registry.register(metrics)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, QueuePool


def timeout_counting_pool(on_timeout: Callable[[], None]) -> type[AsyncAdaptedQueuePool]:
    """An asyncio queue pool class that calls ``on_timeout`` for every checkout that timed out.

    A class per engine (the callback is its attribute), because SQLAlchemy re-creates the pool
    from its class when the engine is disposed, and the new one must keep counting.
    """

    class TimeoutCountingPool(AsyncAdaptedQueuePool):
        def _do_get(self) -> ConnectionPoolEntry:
            try:
                return super()._do_get()
            except exc.TimeoutError:
                on_timeout()
                raise

    return TimeoutCountingPool


class PoolMetrics(Collector):
    """``orderflow_db_pool_{in_use,overflow,size}`` and ``orderflow_db_pool_timeouts_total``.

    ``size`` is the most the pool hands out: ``pool_size + max_overflow`` (the pool does not
    expose ``max_overflow``, so the caller gives the value it configured).
    """

    def __init__(self, *, max_overflow: int) -> None:
        self._max_overflow = max_overflow
        self._engine: AsyncEngine | None = None
        self._timeouts = 0
        self._lock = threading.Lock()

    def count_timeout(self) -> None:
        with self._lock:
            self._timeouts += 1

    def watch(self, engine: AsyncEngine) -> None:
        """Export ``engine``'s pool from now on."""
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        pool = self._engine.sync_engine.pool if self._engine is not None else None
        in_use = overflow = size = 0
        if isinstance(pool, QueuePool):
            in_use = pool.checkedout()
            # overflow() counts up from -pool_size as connections open; only the part beyond
            # pool_size is overflow.
            overflow = max(pool.overflow(), 0)
            size = pool.size() + self._max_overflow
        yield GaugeMetricFamily(
            "orderflow_db_pool_in_use", "Connections checked out of the SQLAlchemy pool.", in_use
        )
        yield GaugeMetricFamily(
            "orderflow_db_pool_overflow",
            "Connections open beyond pool_size (overflow in use).",
            overflow,
        )
        yield GaugeMetricFamily(
            "orderflow_db_pool_size",
            "Most connections the pool hands out (pool_size + max_overflow).",
            size,
        )
        with self._lock:
            timeouts = self._timeouts
        yield CounterMetricFamily(
            "orderflow_db_pool_timeouts",
            "Checkouts that timed out waiting for a free connection.",
            timeouts,
        )
