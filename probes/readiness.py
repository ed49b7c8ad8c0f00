"""A process's readiness: its checks, evaluated on demand (``/health/ready``) and every few
seconds in the background, each outcome exported as ``orderflow_ready`` /
``orderflow_ready_check`` so dashboards and alerts see readiness without an orchestrator.

Used by the probe server of the worker and the bridge and by the API's own health route.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from probes.checks import Check, CheckResult, run_checks
from probes.metrics import ReadinessMetrics

DRAINING = "draining"


class Readiness:
    """The checks of one ``component``; :meth:`evaluate` runs them and exports the outcome."""

    def __init__(
        self,
        *,
        component: str,
        checks: Mapping[str, Check],
        metrics: ReadinessMetrics,
        timeout_s: float = 2.0,
    ) -> None:
        self.component = component
        self._checks = dict(checks)
        self._metrics = metrics
        self._timeout_s = timeout_s
        self.draining = False

    async def evaluate(self) -> list[CheckResult]:
        """Run the checks now (draining counts as one failing check) and export the outcome."""
        if self.draining:
            results = [CheckResult(DRAINING, ok=False, error="shutting down")]
        else:
            results = await run_checks(self._checks, timeout_s=self._timeout_s)
        self._metrics.record(self.component, results)
        return results

    def drain(self) -> None:
        """From now on not ready (the process is stopping)."""
        self.draining = True
        self._metrics.ready.labels(self.component).set(0)

    async def refresh_forever(self, interval_s: float) -> None:
        """Evaluate every ``interval_s`` until cancelled, so the gauges stay current."""
        while True:
            await self.evaluate()
            await asyncio.sleep(interval_s)
