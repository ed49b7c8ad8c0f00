"""Structured logging for every entry point: structlog, JSON in production, console locally.

Standard-library loggers (temporalio, aiokafka, uvicorn, SQLAlchemy) are routed through the
same processors, so one process writes one format. Context bound with ``log_context`` (or
``structlog.contextvars.bind_contextvars``) — ``order_id``, ``workflow_id``,
``correlation_id``, ``topic``/``partition``/``offset`` — appears on every line logged inside
it, from our code and from libraries alike. Every line also carries ``service`` and
``environment`` (``ORDERFLOW_TELEMETRY__ENVIRONMENT``): with ``level`` the only values log
shippers may turn into labels (``infra/monitoring/alloy``); the IDs stay fields.

Temporal Core's own lines (the SDK's Rust part: pollers, connections, workflow task failures)
arrive through ``config.temporal.core_logging`` on the ``temporalio.core`` logger and are
formatted here too, their target and fields as structured fields.

Tracing (OpenTelemetry) is off unless ``ORDERFLOW_TELEMETRY__OTLP_ENDPOINT`` is set: then
:func:`configure_tracing` installs a global tracer provider exporting over OTLP/HTTP, the
entry points add Temporal's tracing interceptor to their client and instrument their database
engine, and every log line written inside a span carries its ``trace_id`` and ``span_id``.
Without an endpoint nothing is installed and the OpenTelemetry API stays a no-op.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import trace
from structlog.contextvars import bound_contextvars
from structlog.typing import Processor

from config.settings import TelemetrySettings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine
    from temporalio.client import Interceptor

# Re-exported: ``with log_context(order_id=..., correlation_id=...):`` binds for the block.
log_context = bound_contextvars

# Libraries that are chatty at INFO; their warnings still come through.
_NOISY_LOGGERS = ("aiokafka", "kafka", "asyncio", "urllib3", "httpx", "httpcore")


def add_trace_ids(_: Any, __: str, event: structlog.typing.EventDict) -> Any:
    """``trace_id`` / ``span_id`` of the active span (hex, as trace UIs show them), if any."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event.setdefault("span_id", trace.format_span_id(context.span_id))
    return event


def drop_color_message(_: Any, __: str, event: structlog.typing.EventDict) -> Any:
    """uvicorn passes an ANSI-coloured copy of its message as ``extra``; drop it."""
    event.pop("color_message", None)
    return event


def temporal_core_fields(_: Any, __: str, event: structlog.typing.EventDict) -> Any:
    """A forwarded Temporal Core line: its ``target`` and fields (``task_queue``,
    ``workflow_id``, ``run_id``, ...) as fields, instead of the raw entry object."""
    entry = event.pop("temporal_log", None)
    if entry is not None:
        event.setdefault("target", entry.target)
        try:
            fields = entry.fields
        except Exception:  # the SDK documents that the conversion may fail
            fields = {}
        for key, value in fields.items():
            event.setdefault(
                key, value if isinstance(value, (str, int, float, bool)) else str(value)
            )
    return event


def _shared_processors(service: str, environment: str) -> list[Processor]:
    def add_service(_: Any, __: str, event: structlog.typing.EventDict) -> Any:
        event.setdefault("service", service)
        event.setdefault("environment", environment)
        return event

    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        drop_color_message,
        temporal_core_fields,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
        add_trace_ids,
    ]


def configure_logging(telemetry: TelemetrySettings, *, component: str | None = None) -> None:
    """Configure structlog and the standard ``logging`` root for this process (idempotent).

    ``log_format="json"`` writes one JSON object a line (with exceptions as text fields);
    ``"console"`` writes aligned, coloured lines when stderr is a terminal. ``service`` is
    ``{service_name}-{component}`` (``orderflow-worker``, the traces' ``service.name``) when
    the process names its component, else ``service_name``.
    """
    service = f"{telemetry.service_name}-{component}" if component else telemetry.service_name
    shared = _shared_processors(service, telemetry.environment)
    renderer: Processor
    if telemetry.log_format == "json":
        # Tracebacks as data, without local variables: those may hold secrets or order data.
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [structlog.processors.ExceptionRenderer(tracebacks), renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )
        final = [renderer]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(telemetry.log_level)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    # Temporal's workflow/activity loggers also append their info dict to the message text;
    # the same data already arrives as structured fields (``temporal_workflow`` and
    # ``temporal_activity`` extras), so keep the message itself clean.
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; call after ``configure_logging`` in entry points."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


# --------------------------------------------------------------------------- tracing

OTLP_TRACES_PATH = "/v1/traces"


def otlp_traces_url(endpoint: str) -> str:
    """``http://collector:4318`` -> ``http://collector:4318/v1/traces`` (a full URL is kept)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(OTLP_TRACES_PATH) else endpoint + OTLP_TRACES_PATH


def build_tracer_provider(telemetry: TelemetrySettings, *, component: str) -> TracerProvider:
    """A provider for process ``component`` (``worker``, ``bridge``), not installed globally.

    Resource: ``service.name`` ``{service_name}-{component}`` (``orderflow-worker``),
    ``service.namespace`` ``{service_name}``, ``deployment.environment.name``, plus what
    ``OTEL_RESOURCE_ATTRIBUTES`` adds.
    Spans are exported in batches over OTLP/HTTP when ``telemetry.otlp_endpoint`` is set (the
    exporter also reads the standard ``OTEL_EXPORTER_OTLP_HEADERS`` for credentials).
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": f"{telemetry.service_name}-{component}",
            "service.namespace": telemetry.service_name,
            "deployment.environment.name": telemetry.environment,
        }
    )
    provider = TracerProvider(resource=resource)
    if telemetry.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=otlp_traces_url(telemetry.otlp_endpoint))
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def configure_tracing(telemetry: TelemetrySettings, *, component: str) -> TracerProvider | None:
    """Install the global tracer provider of this process when an OTLP endpoint is set.

    Returns the provider (the caller passes it to the Temporal client, the database engine and
    the bridge, and calls ``shutdown()`` on exit to flush the last spans: :func:`tracing` does
    both), or ``None`` when
    tracing is off: then nothing is installed and spans cost next to nothing. OpenTelemetry
    accepts a global provider once per process, so call this once, in the entry point.
    """
    if not telemetry.otlp_endpoint:
        return None
    provider = build_tracer_provider(telemetry, component=component)
    trace.set_tracer_provider(provider)
    return provider


@contextmanager
def tracing(telemetry: TelemetrySettings, *, component: str) -> Iterator[TracerProvider | None]:
    """:func:`configure_tracing` for the block; on leaving it, the last spans are exported."""
    provider = configure_tracing(telemetry, component=component)
    try:
        yield provider
    finally:
        if provider is not None:
            provider.shutdown()


def temporal_interceptors(provider: trace.TracerProvider | None) -> list[Interceptor]:
    """Temporal's OpenTelemetry interceptor for a client, or none when tracing is off.

    On the client it traces starts, queries, signals and updates; workers built from that
    client inherit it (it is also a worker interceptor), so the workflow run and its activities
    (local ones included) join the trace of the span that started the workflow.
    """
    if provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(provider.get_tracer("temporalio.contrib.opentelemetry"))]


def trace_database(engine: AsyncEngine, provider: trace.TracerProvider) -> None:
    """A span per SQL statement on ``engine`` (the maintained SQLAlchemy instrumentation).

    Statements are recorded with placeholders, never parameter values. The instrumentation
    declares support for SQLAlchemy below 2.1 only; it uses nothing but SQLAlchemy's stable
    engine events, so the version check is skipped (the tracing test proves it works with the
    SQLAlchemy we pin). Once per process: the instrumentor is a singleton, and it also traces
    engines created after this call.
    """
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )


# Probes and scrapes are frequent and say nothing about an order: no spans for them.
UNTRACED_URLS = "health/,metrics"


def trace_http_app(app: FastAPI, provider: trace.TracerProvider) -> None:
    """A server span per request of ``app`` (the maintained FastAPI instrumentation), named by
    route template (``POST /orders/{order_id}/status``), continuing a caller's ``traceparent``.

    Temporal's client interceptor makes the update call its child; Temporal records the
    workflow's handling of the update (and its activities, their SQL) in the order's own trace,
    linked to that call (``docs/operations/monitoring.md``, "Traces").
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_URLS,
        # One span per request; the ASGI message-level child spans add nothing here.
        exclude_spans=["receive", "send"],
    )


def untrace_database() -> None:
    """Undo :func:`trace_database` (tests)."""
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    SQLAlchemyInstrumentor().uninstrument()
