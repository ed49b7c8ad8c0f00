"""Orderflow's Grafana dashboards as code (grafana-foundation-sdk).

``generate_dashboards.py`` beside this package writes them to ``dashboards/*.json``; those
files are committed, and a test fails when they are stale.
"""

from __future__ import annotations

from collections.abc import Callable

from . import api, database, kafka, logs, order_flow, temporal_worker
from .common import Board, alert_thresholds

# File name (without .json) -> the function that builds it from the alert thresholds.
DASHBOARDS: dict[str, Callable[[dict[str, float]], Board]] = {
    "order-flow": order_flow.build,
    "kafka": kafka.build,
    "temporal-worker": temporal_worker.build,
    "database": database.build,
    "api": api.build,
    "logs": logs.build,
}


def render_all() -> dict[str, str]:
    """Every dashboard's JSON text, by file name (``order-flow.json``)."""
    thresholds = alert_thresholds()
    return {f"{name}.json": build(thresholds).to_json() for name, build in DASHBOARDS.items()}
