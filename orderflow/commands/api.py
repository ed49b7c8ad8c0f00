"""``orderflow api``: serve the HTTP API with uvicorn on ORDERFLOW_API__HOST/PORT until
SIGTERM or Ctrl-C, then finish in-flight requests and exit 0 (see :mod:`api.server`).

Entry point only: settings -> :class:`api.deps.ApiDeps` -> :func:`api.app.create_app`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

from orderflow.commands.common import load_settings_or_exit, stop_on_signals

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from api.deps import ApiDeps
    from orderflow.settings import Settings


def api() -> None:
    """Serve the HTTP API (settings: ORDERFLOW_API__HOST/PORT/TOKEN, plus the service ones)."""
    from api.server import is_loopback
    from orderflow.telemetry import configure_logging, tracing

    settings = load_settings_or_exit()
    configure_logging(settings.telemetry)
    if settings.database.url is None:
        typer.echo("ORDERFLOW_DATABASE__URL is not set (`orderflow dev` sets it)", err=True)
        raise typer.Exit(2)
    if settings.api.token is None and not is_loopback(settings.api.host):
        typer.echo(
            f"ORDERFLOW_API__TOKEN is required when the API listens on {settings.api.host} "
            "(only a loopback address may serve order data without a token)",
            err=True,
        )
        raise typer.Exit(2)
    with tracing(settings.telemetry, component="api") as tracer_provider:
        code = asyncio.run(_run(settings, tracer_provider))
    if code != 0:
        raise typer.Exit(code)


def api_deps(settings: Settings, tracer_provider: TracerProvider | None) -> ApiDeps:
    """Temporal connects lazily: the API starts, and says it is not ready, while it is down."""
    from prometheus_client import REGISTRY

    from api.deps import ApiDeps
    from orderflow.kafka import common_options
    from orderflow.telemetry import temporal_interceptors, trace_database
    from workers.temporal_client import connect_temporal

    db, dev = settings.database, settings.dev
    assert db.url is not None, "checked by the command"
    servers = settings.kafka.bootstrap_servers or f"{dev.host}:{dev.broker_port}"
    interceptors = temporal_interceptors(tracer_provider)
    return ApiDeps(
        database_url=db.url.get_secret_value(),
        connect_temporal=lambda: connect_temporal(settings, lazy=True, interceptors=interceptors),
        kafka_options=common_options(settings.kafka, bootstrap_servers=servers),
        token=settings.api.token.get_secret_value() if settings.api.token else None,
        engine_options={
            "pool_size": db.pool_size,
            "max_overflow": db.max_overflow,
            "pool_timeout_s": db.pool_timeout_s,
            "statement_cache": db.statement_cache,
            "echo": db.echo,
        },
        metrics_registry=REGISTRY,
        on_engine=(
            None
            if tracer_provider is None
            else lambda engine: trace_database(engine, tracer_provider)
        ),
    )


async def _run(settings: Settings, tracer_provider: TracerProvider | None) -> int:
    from api.app import create_app
    from api.server import serve

    app = create_app(api_deps(settings, tracer_provider))
    stop = stop_on_signals()
    return await serve(app, host=settings.api.host, port=settings.api.port, stop=stop)
