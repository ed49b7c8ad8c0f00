"""The probe server of the worker and the bridge: ``/health/live``, ``/health/ready`` and
``/metrics`` on the process's HTTP port, served by uvicorn inside the process's event loop.

* ``/health/live`` is answered by that event loop, so a loop that is stuck (a blocking call, a
  CPU-bound bug) stops answering and the orchestrator's liveness probe fails: exactly the case
  a restart fixes.
* ``/health/ready``: 200 while every check passes, else 503 naming the failing parts. Once the
  process starts draining (SIGTERM) it answers 503 ``draining`` at once, so no new work is routed
  to it while it finishes what it has.
* ``/metrics``: the process's Prometheus registry, plus any other Prometheus text source the
  process adds (the worker adds the Temporal SDK's own metrics).

The readiness outcome is also exported as ``orderflow_ready{component}`` and
``orderflow_ready_check{component,check}``, refreshed every ``refresh_s``, so dashboards and
alerts see readiness without an orchestrator.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import httpx
import structlog
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from probes.checks import Check, CheckResult, ready_body
from probes.http import SignalFreeServer, listen, server_config
from probes.metrics import ReadinessMetrics
from probes.readiness import Readiness

log = structlog.get_logger("orderflow.probes")

MetricsSource = Callable[[], Awaitable[bytes]]


class ProbeServer:
    """Probes and metrics of one process; ``checks`` decide readiness."""

    def __init__(
        self,
        *,
        component: str,
        checks: Mapping[str, Check],
        registry: CollectorRegistry = REGISTRY,
        extra_metrics: MetricsSource | None = None,
        timeout_s: float = 2.0,
        refresh_s: float = 10.0,
        readiness_metrics: ReadinessMetrics | None = None,
    ) -> None:
        self.component = component
        self._registry = registry
        self._extra_metrics = extra_metrics
        self._refresh_s = refresh_s
        self._readiness = Readiness(
            component=component,
            checks=checks,
            metrics=readiness_metrics or ReadinessMetrics(registry),
            timeout_s=timeout_s,
        )
        self.app = Starlette(
            routes=[
                Route("/health/live", self._live),
                Route("/health/ready", self._ready),
                Route("/metrics", self._metrics_text),
            ]
        )

    @property
    def draining(self) -> bool:
        return self._readiness.draining

    async def readiness(self) -> list[CheckResult]:
        """Run the checks now (draining counts as one failing check) and export the outcome."""
        return await self._readiness.evaluate()

    async def _live(self, _: Request) -> Response:
        return JSONResponse({"Status": "live"})

    async def _ready(self, _: Request) -> Response:
        body = ready_body(await self.readiness())
        return JSONResponse(body, status_code=200 if not body["Failing"] else 503)

    async def _metrics_text(self, _: Request) -> Response:
        text = generate_latest(self._registry)
        if self._extra_metrics is not None:
            try:
                text += await self._extra_metrics()
            except Exception as exc:  # their absence must not hide ours
                log.warning("extra metrics unavailable", error=repr(exc))
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    async def _drain_when(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._readiness.drain()
        log.info("draining: readiness now 503", component=self.component)

    @contextlib.asynccontextmanager
    async def serving(
        self,
        *,
        stop: asyncio.Event,
        sock: socket.socket | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> AsyncIterator[ProbeServer]:
        """Serve for the block on ``sock`` (entry points bind it with :func:`probes.http.listen`
        before they connect to anything, so a taken port fails fast), else on ``host:port``.
        Readiness turns 503 as soon as ``stop`` is set (SIGTERM), before the process drains; on
        leaving the block the server stops (the process is exiting)."""
        sock = sock or listen(host, port)
        server = SignalFreeServer(server_config(self.app, lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[sock]), name=f"{self.component}-probes")
        background = [
            asyncio.create_task(
                self._readiness.refresh_forever(self._refresh_s), name=f"{self.component}-readiness"
            ),
            asyncio.create_task(self._drain_when(stop), name=f"{self.component}-drain"),
        ]
        try:
            host, port = sock.getsockname()[:2]
            log.info("probes serving", component=self.component, host=host, port=port)
            yield self
        finally:
            server.should_exit = True
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await serving
            sock.close()


async def relay_metrics(url: str) -> bytes:
    """Another Prometheus endpoint's text (the Temporal SDK's), to serve beside our own."""
    async with httpx.AsyncClient(timeout=2.0) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.content
