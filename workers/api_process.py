"""The API process: settings -> :class:`api.deps.ApiDeps` -> uvicorn until SIGTERM."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY

from api.app import create_app
from api.deps import ApiDeps
from api.server import is_loopback, serve
from config.database import engine_from
from config.settings import ConfigError, Settings, env_name
from config.telemetry import temporal_interceptors, trace_database, trace_http_app
from config.temporal import forward_core_logs, temporal_client
from workers.signals import stop_on_signals


def api_deps(settings: Settings, tracer_provider: TracerProvider | None) -> ApiDeps:
    """Temporal connects lazily: the API starts, and says it is not ready, while it is down."""
    if settings.api.token is None and not is_loopback(settings.api.host):
        raise ConfigError(
            f"{env_name('api', 'token')} is not set (required when the API listens on "
            f"{settings.api.host}; only a loopback address may serve order data without one)"
        )
    interceptors = temporal_interceptors(tracer_provider)
    return ApiDeps(
        create_engine=lambda: engine_from(
            settings.database, application_name="orderflow-api", metrics_registry=REGISTRY
        ),
        connect_temporal=lambda: temporal_client(
            settings.temporal, settings.codec, lazy=True, interceptors=interceptors
        ),
        token=settings.api.token.get_secret_value() if settings.api.token else None,
        metrics_registry=REGISTRY,
        build_id=settings.worker.build_id,
        statement_stats_interval_s=settings.api.statement_stats_interval_s,
        on_engine=(
            None
            if tracer_provider is None
            else lambda engine: trace_database(engine, tracer_provider)
        ),
    )


async def run_api_process(settings: Settings, *, tracer_provider: TracerProvider | None) -> int:
    """Serve until SIGTERM; the exit code (non-zero when the server could not start)."""
    forward_core_logs(settings.telemetry.log_level)
    app = create_app(api_deps(settings, tracer_provider))
    if tracer_provider is not None:
        trace_http_app(app, tracer_provider)
    stop = stop_on_signals()
    return await serve(app, host=settings.api.host, port=settings.api.port, stop=stop)
