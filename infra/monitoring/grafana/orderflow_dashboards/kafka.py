"""Kafka: the bridge's consumer group on order.create.v1, lag and age per partition."""

from __future__ import annotations

from .common import RATE, Board, Query, graph

LAG = "max by (topic, partition) (orderflow_bridge_consumer_lag)"
AGE = "max by (topic, partition) (orderflow_bridge_oldest_unprocessed_age_seconds)"


def build(thresholds: dict[str, float]) -> Board:
    board = Board(
        "orderflow-kafka",
        "Orderflow / Kafka",
        "The bridge's consumer group orderflow-bridge: lag and the oldest unprocessed record per "
        "partition, throughput, pauses (circuit open) and partition assignment.",
    )
    board.row("Backlog").panels(
        graph(
            "Consumer lag (total)",
            "Records not yet committed, summed per topic; the dashed line is the lag alert's "
            "threshold.",
            [Query(f"sum by (topic) ({LAG})", "{{topic}}")],
            threshold=thresholds["consumer_lag_records"],
        ),
        graph(
            "Oldest unprocessed record",
            "Age of the oldest record fetched or pending and not yet committed, per partition; "
            "the dashed line is the age alert's threshold.",
            [Query(AGE, "{{topic}}/{{partition}}")],
            unit="s",
            threshold=thresholds["oldest_unprocessed_age_seconds"],
        ),
        graph(
            "Consumer lag per partition",
            "High watermark minus committed offset, per partition: one partition far above the "
            "others is stuck or hot.",
            [Query(LAG, "{{topic}}/{{partition}}")],
            width=24,
        ),
    )
    board.row("Throughput").panels(
        graph(
            "Records handled by outcome",
            "order.create.v1 records per second, by outcome.",
            [Query(f"sum by (outcome) (rate(orderflow_bridge_records_total[{RATE}]))")],
            unit="reqps",
            stacked=True,
        ),
        graph(
            "Offset commits",
            "Explicit offset commits per second, per bridge instance.",
            [
                Query(
                    f"sum by (instance) (rate(orderflow_bridge_offset_commits_total[{RATE}]))",
                    "{{instance}}",
                )
            ],
            unit="reqps",
        ),
        graph(
            "Dead letters by DLQ topic",
            "Messages written per second to each DLQ topic.",
            [Query(f"sum by (topic) (rate(orderflow_dead_letters_total[{RATE}]))")],
            unit="reqps",
            stacked=True,
        ),
        graph(
            "Transient failures by operation",
            "Temporal or broker unavailable: failed starts and DLQ writes, backed off and retried.",
            [
                Query(
                    f"sum by (operation) (rate(orderflow_bridge_transient_failures_total[{RATE}]))"
                )
            ],
            unit="reqps",
        ),
    )
    board.row("Bridges").panels(
        graph(
            "Paused (circuit open)",
            "1 while a bridge has stopped fetching because Temporal or the broker is unavailable.",
            [Query("max by (instance) (orderflow_bridge_paused)", "{{instance}}")],
            width=8,
        ),
        graph(
            "Assigned partitions",
            "Partitions of order.create.v1 assigned to each bridge instance; the total should "
            "equal the partition count.",
            [
                Query("sum by (instance) (orderflow_bridge_assigned_partitions)", "{{instance}}"),
                Query("sum(orderflow_bridge_assigned_partitions)", "total"),
            ],
            width=8,
        ),
        graph(
            "In flight",
            "Records taken from Kafka whose start or DLQ write has not finished, per instance.",
            [Query("sum by (instance) (orderflow_bridge_in_flight)", "{{instance}}")],
            width=8,
        ),
    )
    return board
