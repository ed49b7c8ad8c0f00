"""The pg_stat_statements collector's labels and samples (the reading itself is tested against
real servers in tests/integration)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from api.statement_metrics import StatementMetrics, statement_label
from db.stats import SlowStatement


def statement(
    query: str, queryid: int | None, calls: int = 1, total_ms: float = 1.0
) -> SlowStatement:
    return SlowStatement(query, calls, total_ms, total_ms / calls, calls, queryid=queryid)


def test_labels_are_short_one_line_and_told_apart_by_the_query_id() -> None:
    query = (
        "SELECT orders.order_id,\n       orders.status_code\n"
        "  FROM orders WHERE orders.order_id = $1"
    )
    label = statement_label(statement(query, -5))
    assert "\n" not in label
    assert "  " not in label
    assert label.startswith("SELECT orders.order_id, orders.status_code FROM orders")
    assert label.endswith(" #fffffffb")
    assert len(label) <= 70
    assert statement_label(statement(query, 6)) != label
    assert statement_label(statement("SELECT 1", None)) == "SELECT 1"


def test_samples_are_seconds_and_one_series_per_label() -> None:
    collector = StatementMetrics()
    collector._statements = (
        statement("INSERT INTO orders VALUES ($1)", 7, calls=10, total_ms=2500.0),
        # The same statement run by a second database user: one series, summed.
        statement("INSERT INTO orders VALUES ($1)", 7, calls=5, total_ms=500.0),
    )
    registry = CollectorRegistry()
    registry.register(collector)
    labels = {"statement": "INSERT INTO orders VALUES ($1) #00000007"}
    assert registry.get_sample_value("orderflow_db_statement_calls_total", labels) == 15
    assert registry.get_sample_value("orderflow_db_statement_time_seconds_total", labels) == 3.0
