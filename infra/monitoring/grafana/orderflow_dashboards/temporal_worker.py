"""Temporal worker: task slots, queue wait (schedule-to-start), polls, workflow outcomes.

The SDK's runtime appends ``_total`` to counters and ``_seconds`` to duration histograms
(``config.temporal.metrics_runtime``).
"""

from __future__ import annotations

from .common import RATE, Board, Query, graph

USED = "sum by (worker_type) (temporal_worker_task_slots_used)"
AVAILABLE = "sum by (worker_type) (temporal_worker_task_slots_available)"


def _schedule_to_start(metric: str) -> list[Query]:
    return [
        Query(
            f"histogram_quantile({q}, sum by (task_queue, le) (rate({metric}_bucket[{RATE}])))",
            f"{{{{task_queue}}}} p{round(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


def build(thresholds: dict[str, float]) -> Board:
    board = Board(
        "orderflow-temporal-worker",
        "Orderflow / Temporal worker",
        "The order worker as Temporal sees it: task slots, how long tasks wait in the task "
        "queue, poll failures, workflow outcomes and the sticky cache.",
    )
    board.row("Capacity").panels(
        graph(
            "Task slots in use",
            "Slots executing a task, per worker type (all instances).",
            [Query(USED, "{{worker_type}}")],
            width=8,
        ),
        graph(
            "Task slot utilisation",
            "Used / (used + available) per worker type: at 100 % tasks wait in Temporal.",
            [Query(f"{USED} / ({USED} + {AVAILABLE})", "{{worker_type}}")],
            unit="percentunit",
            threshold=1,
            width=8,
        ),
        graph(
            "Free task slots per instance",
            "Slots available per worker instance and type; 0 for 5 minutes fires "
            "OrderflowWorkerTaskSlotsExhausted.",
            [
                Query(
                    "sum by (instance, worker_type) (temporal_worker_task_slots_available)",
                    "{{instance}} {{worker_type}}",
                )
            ],
            width=8,
        ),
        graph(
            "Workflow task schedule-to-start",
            "Time workflow tasks wait in the task queue for a worker; the dashed line is the "
            "alert threshold (on p95).",
            _schedule_to_start("temporal_workflow_task_schedule_to_start_latency_seconds"),
            unit="s",
            threshold=thresholds["schedule_to_start_p95_seconds"],
        ),
        graph(
            "Activity schedule-to-start",
            "Time activity tasks wait in the task queue for a worker; the dashed line is the "
            "alert threshold (on p95).",
            _schedule_to_start("temporal_activity_schedule_to_start_latency_seconds"),
            unit="s",
            threshold=thresholds["schedule_to_start_p95_seconds"],
        ),
    )
    board.row("Connection to Temporal").panels(
        graph(
            "Poll failures",
            "Failed long polls per second by RPC and gRPC status: the worker cannot reach the "
            "Temporal frontend (or its credentials are refused).",
            [
                Query(
                    "sum by (operation, status_code) "
                    f"(rate(temporal_long_request_failure_total[{RATE}]))",
                    "{{operation}} {{status_code}}",
                )
            ],
            unit="reqps",
        ),
        graph(
            "Request failures",
            "Failed non-poll requests per second by RPC and gRPC status.",
            [
                Query(
                    "sum by (operation, status_code) "
                    f"(rate(temporal_request_failure_total[{RATE}]))",
                    "{{operation}} {{status_code}}",
                )
            ],
            unit="reqps",
        ),
        graph(
            "Pollers",
            "Active pollers per poller type.",
            [Query("sum by (poller_type) (temporal_num_pollers)", "{{poller_type}}")],
            width=8,
        ),
        graph(
            "Sticky cache size",
            "Workflows held in the worker's cache (per instance).",
            [Query("sum by (instance) (temporal_sticky_cache_size)", "{{instance}}")],
            width=8,
        ),
        graph(
            "Sticky cache hits, misses, evictions",
            "Misses and forced evictions mean full history replays: the cache is too small.",
            [
                Query(f"sum(rate(temporal_sticky_cache_hit_total[{RATE}]))", "hit"),
                Query(f"sum(rate(temporal_sticky_cache_miss_total[{RATE}]))", "miss"),
                Query(
                    f"sum(rate(temporal_sticky_cache_total_forced_eviction_total[{RATE}]))",
                    "forced eviction",
                ),
            ],
            unit="reqps",
            width=8,
        ),
    )
    board.row("Outcomes").panels(
        graph(
            "Workflows completed and failed",
            "Workflow closes per second by workflow type.",
            [
                Query(
                    f"sum by (workflow_type) (rate(temporal_workflow_completed_total[{RATE}]))",
                    "completed {{workflow_type}}",
                ),
                Query(
                    f"sum by (workflow_type) (rate(temporal_workflow_failed_total[{RATE}]))",
                    "failed {{workflow_type}}",
                ),
            ],
            unit="reqps",
        ),
        graph(
            "Workflow task failures",
            "Failing workflow tasks by reason: they retry forever and wedge their orders "
            "(a bug or non-determinism).",
            [
                Query(
                    "sum by (workflow_type, failure_reason) "
                    f"(rate(temporal_workflow_task_execution_failed_total[{RATE}]))",
                    "{{workflow_type}} {{failure_reason}}",
                )
            ],
            unit="reqps",
        ),
        graph(
            "Activity failures by activity type",
            "Failed activity attempts per second (each is retried per its retry policy).",
            [
                Query(
                    "sum by (activity_type) "
                    f"(rate(temporal_activity_execution_failed_total[{RATE}]))",
                    "{{activity_type}}",
                )
            ],
            unit="reqps",
        ),
        graph(
            "Activity execution time",
            "p95 of one activity attempt, by activity type.",
            [
                Query(
                    "histogram_quantile(0.95, sum by (activity_type, le) "
                    f"(rate(temporal_activity_execution_latency_seconds_bucket[{RATE}])))",
                    "{{activity_type}} p95",
                )
            ],
            unit="s",
        ),
        graph(
            "Workflow task execution time",
            "p95 of one workflow task (without replay), by workflow type.",
            [
                Query(
                    "histogram_quantile(0.95, sum by (workflow_type, le) "
                    f"(rate(temporal_workflow_task_execution_latency_seconds_bucket[{RATE}])))",
                    "{{workflow_type}} p95",
                )
            ],
            unit="s",
        ),
        graph(
            "Workflow run time",
            "p50/p95 from start to close by workflow type; order workflows stay open until a "
            "terminal status.",
            [
                Query(
                    f"histogram_quantile({q}, sum by (workflow_type, le) "
                    f"(rate(temporal_workflow_endtoend_latency_seconds_bucket[{RATE}])))",
                    f"{{{{workflow_type}}}} p{round(q * 100)}",
                )
                for q in (0.5, 0.95)
            ],
            unit="s",
        ),
    )
    return board
