"""What the code registers is what ``infra/monitoring/metrics.yaml`` promises: names, types and
labels, per process.

* prometheus_client metrics: each process's registry is built with the same pieces its entry
  point uses (the API's through ``create_app`` itself), every labelled metric is used once, and
  the exposition is parsed back: what Prometheus would scrape.
* Temporal-meter metrics: the names the workflow and activity code create, with the suffixes the
  worker's runtime adds (``_total`` for counters, ``_seconds`` for timedelta histograms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from temporalio.client import Client

from activities.metrics import DECLARED as ACTIVITY_DECLARED
from api.app import create_app
from api.deps import ApiDeps
from api.statement_metrics import StatementMetrics
from bridges.metrics import BridgeMetrics
from config.database import engine_from
from config.settings import DatabaseSettings
from contracts.topics import ORDER_CREATE_V1
from db.stats import SlowStatement
from probes.checks import CheckResult
from probes.metrics import ReadinessMetrics, register_process_metrics
from tests.helpers.tools import REPO_ROOT
from workflows.metrics import DECLARED as WORKFLOW_DECLARED

CATALOGUE = REPO_ROOT / "infra" / "monitoring" / "metrics.yaml"
DATABASE = DatabaseSettings(url=SecretStr("postgresql://nobody@127.0.0.1:1/none"))
# The worker exports these through Temporal's meter, not prometheus_client.
WORKER_METER_NAMES = {
    metric.name + ("_total" if metric.kind == "counter" else "_seconds")
    for metric in (*WORKFLOW_DECLARED, *ACTIVITY_DECLARED)
}


def catalogue() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(CATALOGUE.read_text())["metrics"]
    return entries


def promised(component: str, sources: set[str]) -> dict[str, tuple[str, frozenset[str]]]:
    return {
        entry["name"]: (entry["type"], frozenset(entry["labels"]))
        for entry in catalogue()
        if component in entry["components"] and entry["source"] in sources
    }


def exposed(registry: CollectorRegistry) -> dict[str, tuple[str, frozenset[str]]]:
    """Name (as Prometheus shows it), type and label names of everything ``registry`` exposes."""
    found = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        name = family.name + "_total" if family.type == "counter" else family.name
        labels = frozenset(k for sample in family.samples for k in sample.labels if k != "le")
        found[name] = (family.type, labels)
    return found


def readiness(registry: CollectorRegistry, component: str) -> None:
    ReadinessMetrics(registry).record(component, [CheckResult("temporal", ok=True)])


def pool(registry: CollectorRegistry) -> None:
    """The pool metrics as the worker and the API create them (no connection is made)."""
    engine_from(DATABASE, application_name="test", metrics_registry=registry)


def bridge_registry() -> CollectorRegistry:
    """What ``workers.bridge_process`` registers: build info, readiness, the bridge's own."""
    registry = CollectorRegistry()
    register_process_metrics(registry, component="bridge", build_id=None)
    readiness(registry, "bridge")
    metrics = BridgeMetrics.create(registry)
    metrics.declare_topic(ORDER_CREATE_V1)
    metrics.consumer_lag.labels(ORDER_CREATE_V1, "0").set(3)
    metrics.oldest_unprocessed_age.labels(ORDER_CREATE_V1, "0").set(1.5)
    return registry


def worker_registry() -> CollectorRegistry:
    """What ``workers.order_worker`` registers (the Temporal runtime's metrics come apart)."""
    registry = CollectorRegistry()
    register_process_metrics(registry, component="worker", build_id="sha-1")
    readiness(registry, "worker")
    pool(registry)
    return registry


def api_registry() -> CollectorRegistry:
    """``create_app`` with the process's options, after one request and one statement read."""
    registry = CollectorRegistry()

    async def no_client() -> Client:
        raise AssertionError("not connected in this test")

    app = create_app(
        ApiDeps(
            create_engine=lambda: engine_from(DATABASE, application_name="api"),
            connect_temporal=no_client,
            metrics_registry=registry,
            statement_stats_interval_s=30.0,
        )
    )
    app.state.readiness_metrics.record("api", [CheckResult("database", ok=True)])
    pool(registry)
    app.state.metrics.observe("GET", "/orders/{order_id}", 200, 0.01)
    statements: StatementMetrics = app.state.statement_metrics
    statements._statements = (SlowStatement("SELECT 1", 3, 1.5, 0.5, 3, queryid=42),)
    return registry


PROCESSES: dict[str, Callable[[], CollectorRegistry]] = {
    "bridge": bridge_registry,
    "worker": worker_registry,
    "api": api_registry,
}


@pytest.mark.parametrize("component", sorted(PROCESSES))
def test_each_process_exports_exactly_its_catalogued_metrics(component: str) -> None:
    found = {
        name: shape
        for name, shape in exposed(PROCESSES[component]()).items()
        if name.startswith("orderflow_")
    }
    expected = promised(component, {"orderflow"})
    if component == "worker":
        expected = {k: v for k, v in expected.items() if k not in WORKER_METER_NAMES}
    assert found == expected


def _meter_name(name: str, kind: str) -> str:
    """The name Prometheus shows for a metric created through the worker's Temporal runtime."""
    return name + ("_total" if kind == "counter" else "_seconds")


def test_temporal_meter_metrics_are_the_catalogued_ones() -> None:
    """Counters get ``_total`` and timedelta histograms ``_seconds`` from the runtime
    (``counters_total_suffix``, ``unit_suffix``, ``durations_as_seconds``)."""
    declared = {
        _meter_name(metric.name, metric.kind): (metric.kind, frozenset(metric.labels))
        for metric in (*WORKFLOW_DECLARED, *ACTIVITY_DECLARED)
    }
    worker = promised("worker", {"temporal-meter", "orderflow"})
    assert {
        name: worker[name] for name in worker if name not in exposed(worker_registry())
    } == declared
    for metric in (*WORKFLOW_DECLARED, *ACTIVITY_DECLARED):
        assert not metric.name.endswith(("_total", "_seconds")), metric.name


def test_the_parsed_exposition_keeps_types_and_labels() -> None:
    """The comparison above would be blind if the parser lost types or labels."""
    registry = CollectorRegistry()
    metrics = BridgeMetrics.create(registry)
    metrics.start_latency.observe(0.2)
    shapes = exposed(registry)
    assert shapes["orderflow_bridge_records_total"] == ("counter", frozenset({"outcome"}))
    assert shapes["orderflow_bridge_start_latency_seconds"] == ("histogram", frozenset())
    assert shapes["orderflow_bridge_paused"] == ("gauge", frozenset())
