"""HTTP metrics of the API, per route template (``/orders/{order_id}``, never the raw path,
so label cardinality stays bounded), on a registry the app factory chooses."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

# Requests that matched no route share one label.
UNMATCHED_ROUTE = "<unmatched>"


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter  # labels: method, route, status
    duration: Histogram  # labels: method, route
    registry: CollectorRegistry

    @classmethod
    def create(cls, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            requests=Counter(
                "orderflow_api_requests",
                "HTTP requests answered, by method, route template and status code.",
                ["method", "route", "status"],
                registry=registry,
            ),
            duration=Histogram(
                "orderflow_api_request_duration_seconds",
                "Time to answer an HTTP request, by method and route template.",
                ["method", "route"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
                registry=registry,
            ),
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)
