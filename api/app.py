"""The app factory. One app owns, from start-up to shutdown (its lifespan): a database engine
and session factory, and a Temporal client.

    app = create_app(ApiDeps(create_engine=..., connect_temporal=...))

Routes: ``/health/live``, ``/health/ready``, ``/orders``, ``/orders/{order_id}``,
``/orders/{order_id}/status``, ``/metrics``; every response carries ``X-Correlation-ID``.
"""

from __future__ import annotations

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
from db.engine import create_session_factory

log = structlog.get_logger("orderflow.api")

# Raised when PostgreSQL cannot be reached (refused, reset, pool exhausted): answered 503.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError, OSError)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    config: ApiDeps = app.state.deps
    engine = config.create_engine()
    if config.on_engine is not None:
        config.on_engine(engine)
    try:
        client = await config.connect_temporal()
        app.state.resources = ApiResources(
            engine=engine,
            session_factory=create_session_factory(engine),
            temporal=client,
        )
        log.info("api started")
        yield
    finally:
        app.state.resources = None
        await engine.dispose()
        log.info("api stopped")


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", path=request.url.path, error=repr(exc))
    return JSONResponse(
        {"detail": "database unavailable"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
    )


def create_app(deps: ApiDeps) -> FastAPI:
    """A new app for ``deps`` (its own metrics registry unless ``deps`` names one)."""
    app = FastAPI(
        title="Orderflow API",
        summary="Orders (read model in PostgreSQL) and their status changes (Temporal).",
        version="1",
        lifespan=lifespan,
    )
    app.state.deps = deps
    app.state.resources = None
    http_metrics = HttpMetrics.create(deps.metrics_registry or CollectorRegistry())
    app.state.metrics = http_metrics
    app.add_middleware(RequestContextMiddleware, metrics=http_metrics)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, _database_unavailable)
    app.include_router(health.router)
    app.include_router(orders.router)
    app.include_router(metrics.router)
    return app
