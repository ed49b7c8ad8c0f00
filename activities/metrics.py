"""Activity attempts and retries, counted by a worker interceptor through Temporal's activity
metric meter (so they land on the worker's ``/metrics`` beside the SDK's own metrics, with
``namespace``, ``task_queue``, ``activity_type`` and ``service_name`` added by Temporal).

Every attempt of every activity is counted as it starts, local activities included;
``orderflow_activity_retries`` counts attempts after the first. The first attempt also adds 0
to the retries series, so "no retries" is a 0 on the dashboard rather than no data.
Names are created without ``_total`` (the runtime appends it; see :mod:`workflows.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


@dataclass(frozen=True)
class MeterMetric:
    """A metric created through a Temporal meter, as created (before the runtime's suffixes)."""

    name: str
    kind: str  # "counter" | "histogram"
    labels: tuple[str, ...]
    description: str


ACTIVITY_ATTEMPTS = MeterMetric(
    "orderflow_activity_attempts",
    "counter",
    ("activity",),
    "Activity attempts (first tries and retries), by activity.",
)
ACTIVITY_RETRIES = MeterMetric(
    "orderflow_activity_retries",
    "counter",
    ("activity",),
    "Activity attempts after the first (attempt > 1), by activity.",
)
DECLARED: tuple[MeterMetric, ...] = (ACTIVITY_ATTEMPTS, ACTIVITY_RETRIES)


class ActivityAttemptMetrics(Interceptor):
    """Worker interceptor: pass it in ``Worker(interceptors=[...])``."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountAttempts(next)


class _CountAttempts(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        meter = activity.metric_meter()
        labels = {"activity": info.activity_type}
        attempts = meter.create_counter(ACTIVITY_ATTEMPTS.name, ACTIVITY_ATTEMPTS.description)
        retries = meter.create_counter(ACTIVITY_RETRIES.name, ACTIVITY_RETRIES.description)
        attempts.add(1, labels)
        retries.add(1 if info.attempt > 1 else 0, labels)
        return await super().execute_activity(input)
