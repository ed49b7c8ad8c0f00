"""Business metrics of ``OrderWorkflow``, recorded through Temporal's workflow metric meter.

The workflow meter records nothing while a workflow replays its history, so an order is counted
once however often its history is replayed (worker restarts, cache evictions). Temporal adds
``namespace``, ``task_queue``, ``workflow_type`` and ``service_name`` to every series.

Names are created *without* the suffixes Prometheus shows: the worker's runtime
(``config.temporal.metrics_runtime``) appends ``_total`` to counters and the unit to histograms,
so ``orderflow_orders_opened`` is exported as ``orderflow_orders_opened_total`` and the timedelta
histogram ``orderflow_order_open_latency`` as ``orderflow_order_open_latency_seconds`` — the
names in ``infra/monitoring/metrics.yaml``. :data:`DECLARED` lists them for the catalogue test.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import MetricCounter, MetricHistogramTimedelta

with workflow.unsafe.imports_passed_through():
    from activities.metrics import MeterMetric


ORDERS_OPENED = MeterMetric(
    "orderflow_orders_opened", "counter", (), "Orders persisted with status 1000 Open."
)
ORDERS_FAILED = MeterMetric(
    "orderflow_orders_failed",
    "counter",
    ("error_type",),
    "Order workflows that failed, by error type (validation, retries exhausted, ...).",
)
STATUS_CHANGES = MeterMetric(
    "orderflow_status_changes",
    "counter",
    ("to_status",),
    "Order status changes, by target status code.",
)
DEAD_LETTERS = MeterMetric(
    "orderflow_dead_letters",
    "counter",
    ("topic", "stage"),
    "Messages written to a DLQ topic, by DLQ topic and stage.",
)
ORDER_OPEN_LATENCY = MeterMetric(
    "orderflow_order_open_latency",
    "histogram",
    (),
    "Kafka record timestamp to the order persisted as Open (end to end).",
)
DECLARED: tuple[MeterMetric, ...] = (
    ORDERS_OPENED,
    ORDERS_FAILED,
    STATUS_CHANGES,
    DEAD_LETTERS,
    ORDER_OPEN_LATENCY,
)

# Buckets of the end-to-end histogram (seconds), for the runtime's histogram_bucket_overrides:
# milliseconds when the pipeline keeps up, minutes during a backlog; 1 s is a boundary.
ORDER_OPEN_LATENCY_BUCKETS: tuple[float, ...] = (
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
)


class OrderMetrics:
    """The workflow's counters; create one per workflow run (in workflow code only)."""

    def __init__(self) -> None:
        meter = workflow.metric_meter()
        self._opened: MetricCounter = meter.create_counter(
            ORDERS_OPENED.name, ORDERS_OPENED.description
        )
        self._failed: MetricCounter = meter.create_counter(
            ORDERS_FAILED.name, ORDERS_FAILED.description
        )
        self._status_changes: MetricCounter = meter.create_counter(
            STATUS_CHANGES.name, STATUS_CHANGES.description
        )
        self._dead_letters: MetricCounter = meter.create_counter(
            DEAD_LETTERS.name, DEAD_LETTERS.description
        )
        self._open_latency: MetricHistogramTimedelta = meter.create_histogram_timedelta(
            ORDER_OPEN_LATENCY.name, ORDER_OPEN_LATENCY.description
        )

    def opened(self, latency: timedelta | None) -> None:
        """The order reached Open; ``latency`` from its Kafka record (None when unknown)."""
        self._opened.add(1)
        if latency is not None:
            self._open_latency.record(max(latency, timedelta(0)))

    def failed(self, error_type: str) -> None:
        self._failed.add(1, {"error_type": error_type})

    def status_changed(self, to_status: int) -> None:
        self._status_changes.add(1, {"to_status": str(to_status)})

    def dead_lettered(self, topic: str, stage: str) -> None:
        self._dead_letters.add(1, {"topic": topic, "stage": stage})
