"""Structured logging for every entry point: structlog, JSON in production, console locally.

Standard-library loggers (temporalio, aiokafka, uvicorn, SQLAlchemy) are routed through the
same processors, so one process writes one format. Context bound with ``log_context`` (or
``structlog.contextvars.bind_contextvars``) — ``order_id``, ``workflow_id``,
``correlation_id``, ``topic``/``partition``/``offset`` — appears on every line logged inside
it, from our code and from libraries alike.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars
from structlog.typing import Processor

from orderflow.settings import TelemetrySettings

# Re-exported: ``with log_context(order_id=..., correlation_id=...):`` binds for the block.
log_context = bound_contextvars

# Libraries that are chatty at INFO; their warnings still come through.
_NOISY_LOGGERS = ("aiokafka", "kafka", "asyncio", "urllib3", "httpx", "httpcore")


def _shared_processors(service_name: str) -> list[Processor]:
    def add_service(_: Any, __: str, event: structlog.typing.EventDict) -> Any:
        event.setdefault("service", service_name)
        return event

    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_service,
    ]


def configure_logging(telemetry: TelemetrySettings) -> None:
    """Configure structlog and the standard ``logging`` root for this process (idempotent).

    ``log_format="json"`` writes one JSON object a line (with exceptions as text fields);
    ``"console"`` writes aligned, coloured lines when stderr is a terminal.
    """
    shared = _shared_processors(telemetry.service_name)
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


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; call after ``configure_logging`` in entry points."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
