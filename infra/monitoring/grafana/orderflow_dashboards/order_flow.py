"""Order flow: what came in, what became an order, what was dead-lettered, and how long it took."""

from __future__ import annotations

from .common import RATE, Board, Query, graph, quantiles, single_stat, up_down_mapping

RECEIVED = f"sum(rate(orderflow_bridge_records_total[{RATE}]))"
DEAD_LETTERED = f"sum(rate(orderflow_dead_letters_total[{RATE}]))"


def build(thresholds: dict[str, float]) -> Board:
    board = Board(
        "orderflow-order-flow",
        "Orderflow / Order flow",
        "Orders received from order.create.v1, opened, failed and dead-lettered, and the time "
        "from the Kafka record to the workflow start and to status Open.",
    )
    board.row("Now").panels(
        single_stat(
            "Received",
            "order.create.v1 records handled by the bridges per second (every outcome).",
            Query(RECEIVED),
            unit="reqps",
            base_color="blue",
            over_color="blue",
        ),
        single_stat(
            "Opened",
            "Orders persisted with status 1000 Open per second.",
            Query(f"sum(rate(orderflow_orders_opened_total[{RATE}]))"),
            unit="reqps",
            base_color="blue",
            over_color="blue",
        ),
        single_stat(
            "Dead-lettered share",
            "Dead letters (every stage) per record received; red above the alert threshold.",
            Query(f"{DEAD_LETTERED} / {RECEIVED}"),
            unit="percentunit",
            threshold=thresholds["dead_letter_ratio"],
        ),
        single_stat(
            "Kafka → Open p95",
            "95th percentile of the time from the Kafka record's timestamp to status Open.",
            Query(
                "histogram_quantile(0.95, sum by (le) "
                f"(rate(orderflow_order_open_latency_seconds_bucket[{RATE}])))"
            ),
            unit="s",
        ),
        single_stat(
            "Ready",
            "Processes whose /health/ready answers 200 (each component's worst instance).",
            Query("min by (component) (orderflow_ready)", "{{component}}"),
            mappings=up_down_mapping(),
            width=8,
        ),
    )
    board.row("Throughput").panels(
        graph(
            "Records received by outcome",
            "started: a workflow was started; duplicate: the order's workflow already existed; "
            "dead_lettered: refused by the bridge (DESERIALIZE or SCHEMA).",
            [Query(f"sum by (outcome) (rate(orderflow_bridge_records_total[{RATE}]))")],
            unit="reqps",
            stacked=True,
        ),
        graph(
            "Orders opened and failed",
            "Opened orders, and failed order workflows by error type.",
            [
                Query(f"sum(rate(orderflow_orders_opened_total[{RATE}]))", "opened"),
                Query(
                    f"sum by (error_type) (rate(orderflow_orders_failed_total[{RATE}]))",
                    "failed: {{error_type}}",
                ),
            ],
            unit="reqps",
        ),
        graph(
            "Dead letters by stage",
            "Messages written to the DLQ topics per second, by the stage that refused them "
            "(DESERIALIZE, SCHEMA: bridge; VALIDATE, PERSIST, PUBLISH: workflow).",
            [Query(f"sum by (stage) (rate(orderflow_dead_letters_total[{RATE}]))")],
            unit="reqps",
            stacked=True,
        ),
        graph(
            "Status changes by target status",
            "Order status changes per second, by the status code they moved to.",
            [Query(f"sum by (to_status) (rate(orderflow_status_changes_total[{RATE}]))")],
            unit="reqps",
            stacked=True,
        ),
    )
    board.row("Latency").panels(
        graph(
            "Kafka record → Open",
            "End to end: the Kafka record's timestamp to the order persisted as Open.",
            quantiles("orderflow_order_open_latency_seconds"),
            unit="s",
        ),
        graph(
            "Kafka record → workflow started",
            "The Kafka record's timestamp to Temporal acknowledging the workflow start.",
            quantiles("orderflow_bridge_start_latency_seconds"),
            unit="s",
        ),
        graph(
            "Activity attempts by activity",
            "Activity attempts per second (first tries and retries).",
            [Query(f"sum by (activity) (rate(orderflow_activity_attempts_total[{RATE}]))")],
            unit="reqps",
        ),
        graph(
            "Activity retries by activity",
            "Attempts after the first: a dependency (database, broker) is failing transiently.",
            [Query(f"sum by (activity) (rate(orderflow_activity_retries_total[{RATE}]))")],
            unit="reqps",
        ),
    )
    return board
