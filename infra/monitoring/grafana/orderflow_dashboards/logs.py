"""Logs (Loki): errors by service, and every line of one order or one correlation ID.

Streams carry only the labels service, environment and level (infra/monitoring/alloy); the
order and correlation IDs stay in the JSON line, so the queries filter the text first (fast)
and then parse the JSON to match the field exactly.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from .common import RATE, Board, Query, graph, log_lines, loki_graph

ALL = '{service=~".+"}'


def _text_box(name: str, label: str) -> dashboard_builders.TextBoxVariable:
    return dashboard_builders.TextBoxVariable(name).label(label).default_value("")


def build(thresholds: dict[str, float]) -> Board:
    board = Board(
        "orderflow-logs",
        "Orderflow / Logs",
        "Log lines of every Orderflow process from Loki: errors by service, and the whole story "
        "of one order (by order_id) or one request chain (by correlation_id).",
        with_loki=True,
    )
    board.variable(_text_box("order_id", "Order ID")).variable(
        _text_box("correlation_id", "Correlation ID")
    )
    board.row("Errors").panels(
        loki_graph(
            "Errors by service",
            "Lines at level error or critical per interval, by service.",
            [
                Query(
                    "sum by (service) (count_over_time("
                    '{service=~".+", level=~"error|critical"}[$__interval]))',
                    "{{service}}",
                )
            ],
        ),
        loki_graph(
            "Warnings by service",
            "Lines at level warning per interval, by service.",
            [
                Query(
                    'sum by (service) (count_over_time({service=~".+", level="warning"}'
                    "[$__interval]))",
                    "{{service}}",
                )
            ],
        ),
        graph(
            "Dead letters by stage (metrics)",
            "For correlation with the error lines: dead letters per second by stage.",
            [Query(f"sum by (stage) (rate(orderflow_dead_letters_total[{RATE}]))")],
            unit="reqps",
            stacked=True,
            width=24,
        ),
        log_lines(
            "Error lines",
            "The newest error and critical lines of every service.",
            '{service=~".+", level=~"error|critical"}',
        ),
    )
    board.row("One order").panels(
        log_lines(
            "Lines of order $order_id",
            "Every line that carries order_id = $order_id: bridge, workflow, activities, API.",
            f'{ALL} |= "$order_id" | json | order_id = "$order_id"',
        ),
        log_lines(
            "Lines of correlation ID $correlation_id",
            "Every line that carries correlation_id = $correlation_id.",
            f'{ALL} |= "$correlation_id" | json | correlation_id = "$correlation_id"',
        ),
    )
    return board
