"""Prometheus metrics of the bridge, on a registry the caller chooses (tests use their own)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class BridgeMetrics:
    records: Counter  # labels: outcome = started | duplicate | dead_lettered
    transient_failures: Counter  # labels: operation = start | dlq_write
    commits: Counter
    in_flight: Gauge
    paused: Gauge
    assigned_partitions: Gauge
    registry: CollectorRegistry

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> BridgeMetrics:
        return cls(
            records=Counter(
                "orderflow_bridge_records",
                "order.create.v1 records handled, by outcome (duplicate = workflow already "
                "started or completed for the order).",
                ["outcome"],
                registry=registry,
            ),
            transient_failures=Counter(
                "orderflow_bridge_transient_failures",
                "Transient failures (Temporal or broker unavailable), backed off and retried.",
                ["operation"],
                registry=registry,
            ),
            commits=Counter(
                "orderflow_bridge_offset_commits",
                "Explicit offset commits of the bridge's consumer group.",
                registry=registry,
            ),
            in_flight=Gauge(
                "orderflow_bridge_in_flight",
                "Records taken from Kafka whose start or DLQ write has not finished.",
                registry=registry,
            ),
            paused=Gauge(
                "orderflow_bridge_paused",
                "1 while fetching is paused because Temporal or the broker is unavailable.",
                registry=registry,
            ),
            assigned_partitions=Gauge(
                "orderflow_bridge_assigned_partitions",
                "Partitions of order.create.v1 this bridge holds (0 for an idle member).",
                registry=registry,
            ),
            registry=registry,
        )

    def count(self, outcome: str) -> float:
        """Current value of ``records{outcome=...}`` (for tests and logs)."""
        value = self.registry.get_sample_value(
            "orderflow_bridge_records_total", {"outcome": outcome}
        )
        return value or 0.0
