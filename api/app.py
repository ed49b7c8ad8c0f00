"""The app factory. One app owns, from start-up to shutdown (its lifespan): a database engine
and session factory, and a Temporal client.

    app = create_app(ApiDeps(create_engine=..., connect_temporal=...))

Routes: ``/health/live``, ``/health/ready``, ``/orders``, ``/orders/{order_id}``,
``/orders/{order_id}/status``, ``/metrics``; every response carries ``X-Correlation-ID``.

While the app runs, its readiness is re-evaluated in the background (``orderflow_ready``
follows the database and Temporal even when nothing probes the API) and, when configured, the
top statements of ``pg_stat_statements`` are read for ``/metrics`` (:mod:`api.statement_metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from api.deps import ApiDeps, ApiResources
from api.metrics import HttpMetrics
from api.middleware import RequestContextMiddleware
from api.routers import health, metrics, orders
from api.statement_metrics import StatementMetrics
from db.engine import create_session_factory
from probes.checks import check_database, check_temporal
from probes.metrics import ReadinessMetrics, register_process_metrics
from probes.readiness import Readiness

log = structlog.get_logger("orderflow.api")

COMPONENT = "api"

# Raised when PostgreSQL cannot be reached (refused, reset, pool exhausted): answered 503.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    config: ApiDeps = app.state.deps
    engine = config.create_engine()
    if config.on_engine is not None:
        config.on_engine(engine)
    background: list[asyncio.Task[None]] = []
    try:
        client = await config.connect_temporal()
        app.state.resources = ApiResources(
            engine=engine,
            session_factory=create_session_factory(engine),
            temporal=client,
        )
        readiness = Readiness(
            component=COMPONENT,
            checks={
                # What the API itself needs; it never talks to the broker.
                "database": lambda: check_database(engine),
                "temporal": lambda: check_temporal(client, config.ready_timeout_s),
            },
            metrics=app.state.readiness_metrics,
            timeout_s=config.ready_timeout_s,
        )
        app.state.readiness = readiness
        background.append(
            asyncio.create_task(readiness.refresh_forever(config.readiness_refresh_s))
        )
        statements: StatementMetrics | None = app.state.statement_metrics
        if statements is not None and config.statement_stats_interval_s is not None:
            background.append(
                asyncio.create_task(statements.run(engine, config.statement_stats_interval_s))
            )
        log.info("api started")
        yield
    finally:
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.resources = None
        app.state.readiness = None
        await engine.dispose()
        log.info("api stopped")


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", path=request.url.path, error=repr(exc))
    return JSONResponse(
        {"detail": "database unavailable"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
    )


def create_app(deps: ApiDeps) -> FastAPI:
    """A new app for ``deps`` (its own metrics registry unless ``deps`` names one, which then
    takes the metrics of one app only)."""
    app = FastAPI(
        title="Orderflow API",
        summary="Orders (read model in PostgreSQL) and their status changes (Temporal).",
        version="1",
        lifespan=lifespan,
    )
    app.state.deps = deps
    app.state.resources = None
    app.state.readiness = None
    registry = deps.metrics_registry or CollectorRegistry()
    http_metrics = HttpMetrics.create(registry)
    app.state.metrics = http_metrics
    app.state.readiness_metrics = ReadinessMetrics(registry)
    register_process_metrics(registry, component=COMPONENT, build_id=deps.build_id)
    app.state.statement_metrics = None
    if deps.statement_stats_interval_s is not None:
        app.state.statement_metrics = StatementMetrics()
        registry.register(app.state.statement_metrics)
    app.add_middleware(RequestContextMiddleware, metrics=http_metrics)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, _database_unavailable)
    app.include_router(health.router)
    app.include_router(orders.router)
    app.include_router(metrics.router)
    return app
