"""API: request rate, server errors, and latency per route against the 100 ms target."""

from __future__ import annotations

from .common import RATE, Board, Query, graph, quantiles, single_stat

REQUESTS = f"sum(rate(orderflow_api_requests_total[{RATE}]))"
ERRORS = f'sum(rate(orderflow_api_requests_total{{status=~"5.."}}[{RATE}]))'


def build(thresholds: dict[str, float]) -> Board:
    target = thresholds["api_latency_p95_seconds"]
    board = Board(
        "orderflow-api",
        "Orderflow / API",
        "Requests, server errors and latency by route template. Latency panels draw the "
        "100 ms target as a dashed line.",
    )
    board.row("Now").panels(
        single_stat(
            "Requests",
            "Requests answered per second.",
            Query(REQUESTS),
            unit="reqps",
            base_color="blue",
            over_color="blue",
            width=6,
        ),
        single_stat(
            "Server errors",
            "Share of requests answered with 5xx; red above the 0.1 % alert threshold.",
            Query(f"({ERRORS} or vector(0)) / {REQUESTS}"),
            unit="percentunit",
            threshold=thresholds["api_error_ratio"],
            width=6,
        ),
        single_stat(
            "p95 latency",
            "95th percentile over every route except health and metrics; red above 100 ms.",
            Query(
                "histogram_quantile(0.95, sum by (le) (rate("
                'orderflow_api_request_duration_seconds_bucket{route!~"/health/.*|/metrics"}'
                f"[{RATE}])))"
            ),
            unit="s",
            threshold=target,
            width=6,
        ),
        single_stat(
            "p99 latency",
            "99th percentile over every route except health and metrics.",
            Query(
                "histogram_quantile(0.99, sum by (le) (rate("
                'orderflow_api_request_duration_seconds_bucket{route!~"/health/.*|/metrics"}'
                f"[{RATE}])))"
            ),
            unit="s",
            threshold=target,
            width=6,
        ),
    )
    board.row("Traffic").panels(
        graph(
            "Requests by route",
            "Requests per second by method and route template.",
            [
                Query(
                    f"sum by (method, route) (rate(orderflow_api_requests_total[{RATE}]))",
                    "{{method}} {{route}}",
                )
            ],
            unit="reqps",
            stacked=True,
        ),
        graph(
            "Responses by status",
            "Responses per second by status code.",
            [Query(f"sum by (status) (rate(orderflow_api_requests_total[{RATE}]))")],
            unit="reqps",
            stacked=True,
        ),
        graph(
            "Server error share",
            "5xx responses per request; the dashed line is the 0.1 % alert threshold.",
            [Query(f"{ERRORS} / {REQUESTS}", "5xx share")],
            unit="percentunit",
            threshold=thresholds["api_error_ratio"],
            width=24,
        ),
    )
    board.row("Latency by route (target 100 ms)")
    for q in (0.5, 0.95, 0.99):
        board.panel(
            graph(
                f"p{round(q * 100)} by route",
                f"{round(q * 100)}th percentile of the time to answer, per route template; "
                "the dashed line is the 100 ms target.",
                quantiles("orderflow_api_request_duration_seconds", "route", (q,)),
                unit="s",
                threshold=target,
                width=8,
            )
        )
    return board
