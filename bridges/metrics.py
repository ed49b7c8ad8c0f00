"""Prometheus metrics of the bridge, on a registry the caller chooses (tests use their own).

Names, types and labels are those of ``infra/monitoring/metrics.yaml`` (a unit test compares
them). Labelled counters are declared with every value they can take (outcomes, operations, the
bridge's DLQ stages), so each series exists from the first scrape at 0: ``rate()`` then says
"nothing happened" instead of "no data", and an alert on a ratio is not blind until the first
failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from contracts.dlq import DlqStage
from contracts.topics import dlq_topic

OUTCOMES = ("started", "duplicate", "dead_lettered")
OPERATIONS = ("start", "dlq_write")
# The stages the bridge itself dead-letters at; the worker counts VALIDATE, PERSIST, PUBLISH.
BRIDGE_STAGES = (DlqStage.DESERIALIZE, DlqStage.SCHEMA)
# Kafka record -> workflow start: milliseconds when healthy, minutes during a backlog.
START_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True)
class BridgeMetrics:
    records: Counter  # labels: outcome = started | duplicate | dead_lettered
    transient_failures: Counter  # labels: operation = start | dlq_write
    commits: Counter
    in_flight: Gauge
    paused: Gauge
    assigned_partitions: Gauge
    consumer_lag: Gauge  # labels: topic, partition
    oldest_unprocessed_age: Gauge  # labels: topic, partition
    start_latency: Histogram
    dead_letters: Counter  # labels: topic (the DLQ topic), stage
    registry: CollectorRegistry

    @classmethod
    def create(cls, registry: CollectorRegistry = REGISTRY) -> BridgeMetrics:
        metrics = cls(
            records=Counter(
                "orderflow_bridge_records",
                "order.create.v1 records handled, by outcome (started | duplicate | "
                "dead_lettered); the sum over outcomes is the number of orders received.",
                ["outcome"],
                registry=registry,
            ),
            transient_failures=Counter(
                "orderflow_bridge_transient_failures",
                "Transient failures (Temporal or broker unavailable) backed off and retried, "
                "by operation (start | dlq_write).",
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
                "Records taken from Kafka whose workflow start or DLQ write has not finished.",
                registry=registry,
            ),
            paused=Gauge(
                "orderflow_bridge_paused",
                "1 while the circuit is open and fetching is paused (Temporal or the broker "
                "unavailable), else 0.",
                registry=registry,
            ),
            assigned_partitions=Gauge(
                "orderflow_bridge_assigned_partitions",
                "Partitions of order.create.v1 currently assigned to this bridge instance.",
                registry=registry,
            ),
            consumer_lag=Gauge(
                "orderflow_bridge_consumer_lag",
                "Records not yet committed by the consumer group (high watermark - committed "
                "offset), per assigned partition.",
                ["topic", "partition"],
                registry=registry,
            ),
            oldest_unprocessed_age=Gauge(
                "orderflow_bridge_oldest_unprocessed_age_seconds",
                "Age of the oldest record fetched or pending and not yet committed, per "
                "assigned partition; 0 when none.",
                ["topic", "partition"],
                registry=registry,
            ),
            start_latency=Histogram(
                "orderflow_bridge_start_latency_seconds",
                "Kafka record timestamp to workflow start acknowledged by Temporal.",
                buckets=START_LATENCY_BUCKETS,
                registry=registry,
            ),
            dead_letters=Counter(
                "orderflow_dead_letters",
                "Messages written to a DLQ topic, by DLQ topic and stage.",
                ["topic", "stage"],
                registry=registry,
            ),
            registry=registry,
        )
        for outcome in OUTCOMES:
            metrics.records.labels(outcome=outcome)
        for operation in OPERATIONS:
            metrics.transient_failures.labels(operation=operation)
        return metrics

    def declare_topic(self, topic: str) -> None:
        """Create the dead-letter series of the bridge's stages for ``topic``'s DLQ at 0."""
        for stage in BRIDGE_STAGES:
            self.dead_letters.labels(topic=dlq_topic(topic), stage=stage.value)

    def count(self, outcome: str) -> float:
        """Current value of ``records{outcome=...}`` (for tests and logs)."""
        value = self.registry.get_sample_value(
            "orderflow_bridge_records_total", {"outcome": outcome}
        )
        return value or 0.0
