"""Metrics every long-running process exports, whatever its job: which build it runs
(``orderflow_build_info``) and whether it is ready (``orderflow_ready``,
``orderflow_ready_check``). Names, types and labels are those of
``infra/monitoring/metrics.yaml``; ``tests/unit/test_metrics_catalogue.py`` holds them to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics

from probes.checks import CheckResult

# What build_id says when the process was not given one (the local stack, tests).
DEV_BUILD = "dev"


def package_version() -> str:
    """The installed ``orderflow`` distribution's version (``0+unknown`` from a bare checkout)."""
    try:
        return version("orderflow")
    except PackageNotFoundError:
        return "0+unknown"


def register_process_metrics(
    registry: CollectorRegistry, *, component: str, build_id: str | None
) -> Gauge:
    """What every process does first: plain exposition, then its build info.

    prometheus_client would expose an extra ``*_created`` gauge per counter and histogram in
    the Prometheus text format; nothing reads them and they double the series count, so they
    are switched off (a process-wide setting of the library).
    """
    disable_created_metrics()  # type: ignore[no-untyped-call]
    return register_build_info(registry, component=component, build_id=build_id)


def register_build_info(
    registry: CollectorRegistry, *, component: str, build_id: str | None
) -> Gauge:
    """``orderflow_build_info{component,version,build_id} 1`` on ``registry``.

    ``build_id`` is the image tag (``ORDERFLOW_WORKER__BUILD_ID``), :data:`DEV_BUILD` without
    one. A gauge rather than prometheus_client's ``Info`` so the exposed type is exactly the
    catalogue's (``Info`` is exposed as ``info`` in OpenMetrics).
    """
    gauge = Gauge(
        "orderflow_build_info",
        "Always 1; the labels say which version and build (image tag) the process runs.",
        ["component", "version", "build_id"],
        registry=registry,
    )
    gauge.labels(component, package_version(), build_id or DEV_BUILD).set(1)
    return gauge


class ReadinessMetrics:
    """``orderflow_ready{component}`` and ``orderflow_ready_check{component,check}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ready = Gauge(
            "orderflow_ready",
            "1 when GET /health/ready would answer 200, else 0.",
            ["component"],
            registry=registry,
        )
        self.check = Gauge(
            "orderflow_ready_check",
            "1 when one readiness dependency check (database, temporal, kafka, ...) passes, "
            "else 0.",
            ["component", "check"],
            registry=registry,
        )

    def record(self, component: str, results: Iterable[CheckResult]) -> None:
        """Export one readiness evaluation of ``component``."""
        results = list(results)
        for result in results:
            self.check.labels(component, result.name).set(int(result.ok))
        self.ready.labels(component).set(int(all(result.ok for result in results)))
