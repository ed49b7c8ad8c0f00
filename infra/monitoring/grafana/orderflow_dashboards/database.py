"""Database: the SQLAlchemy pools of the worker and the API, and the slowest statements
(pg_stat_statements, exported by the API process every 30 s)."""

from __future__ import annotations

from .common import RATE, Board, Query, graph, instant_table

# pg_stat_statements is sampled every 30 s: a fixed 5-minute window always holds several
# samples, whatever the dashboard's zoom.
STATEMENT_WINDOW = "5m"


def build(thresholds: dict[str, float]) -> Board:
    board = Board(
        "orderflow-database",
        "Orderflow / Database",
        "Connection pools of the processes with a database engine (worker, API) and query time "
        "of the top statements from pg_stat_statements.",
    )
    board.row("Connection pools").panels(
        graph(
            "Pool connections in use",
            "Checked-out connections per process, against the most the pool hands out "
            "(pool_size + max_overflow).",
            [
                Query("sum by (job, instance) (orderflow_db_pool_in_use)", "{{instance}} in use"),
                Query("sum by (job, instance) (orderflow_db_pool_size)", "{{instance}} size"),
            ],
        ),
        graph(
            "Pool utilisation",
            "In use / size per process; the dashed line is the pool-exhausted alert's threshold.",
            [
                Query(
                    "sum by (job, instance) (orderflow_db_pool_in_use)"
                    " / sum by (job, instance) (orderflow_db_pool_size)",
                    "{{instance}}",
                )
            ],
            unit="percentunit",
            threshold=thresholds["db_pool_utilisation_ratio"],
        ),
        graph(
            "Overflow connections",
            "Connections beyond pool_size: sustained overflow means pool_size is too small.",
            [Query("sum by (job, instance) (orderflow_db_pool_overflow)", "{{instance}}")],
        ),
        graph(
            "Checkout timeouts",
            "Checkouts that gave up waiting for a connection, per second.",
            [
                Query(
                    f"sum by (job, instance) (rate(orderflow_db_pool_timeouts_total[{RATE}]))",
                    "{{instance}}",
                )
            ],
            unit="reqps",
        ),
    )
    board.row("Statements (pg_stat_statements)").panels(
        instant_table(
            "Slowest statements in the time range",
            "Total execution time and calls of the top statements over the dashboard's range; "
            "mean = time / calls.",
            [
                Query(
                    "topk(10, sum by (statement) "
                    "(increase(orderflow_db_statement_time_seconds_total[$__range])))",
                    "total time",
                ),
                Query(
                    "sum by (statement) (increase(orderflow_db_statement_calls_total[$__range]))",
                    "calls",
                ),
            ],
        ),
        graph(
            "Statement time per second",
            "Seconds of database time spent per second, by statement.",
            [
                Query(
                    "sum by (statement) (rate(orderflow_db_statement_time_seconds_total"
                    f"[{STATEMENT_WINDOW}]))",
                    "{{statement}}",
                )
            ],
            unit="s",
            stacked=True,
        ),
        graph(
            "Mean time per call",
            "Execution time per call, by statement.",
            [
                Query(
                    "sum by (statement) (rate(orderflow_db_statement_time_seconds_total"
                    f"[{STATEMENT_WINDOW}])) / sum by (statement) "
                    f"(rate(orderflow_db_statement_calls_total[{STATEMENT_WINDOW}]))",
                    "{{statement}}",
                )
            ],
            unit="s",
        ),
        graph(
            "Calls per second",
            "Statement calls per second, by statement.",
            [
                Query(
                    "sum by (statement) "
                    f"(rate(orderflow_db_statement_calls_total[{STATEMENT_WINDOW}]))",
                    "{{statement}}",
                )
            ],
            unit="reqps",
            width=24,
        ),
    )
    return board
