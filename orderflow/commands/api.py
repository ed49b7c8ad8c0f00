"""``orderflow api``: serve the HTTP API with uvicorn on ORDERFLOW_API__HOST/PORT until
SIGTERM or Ctrl-C, then finish in-flight requests and exit 0 (see :mod:`api.server`)."""

from __future__ import annotations

import asyncio

import typer

from orderflow.commands.common import load_settings_or_exit


def api() -> None:
    """Serve the HTTP API (needs ORDERFLOW_DATABASE__URL, ORDERFLOW_TEMPORAL__ADDRESS and
    ORDERFLOW_CODEC__KEYS; ORDERFLOW_API__TOKEN unless it listens on a loopback address)."""
    from config.settings import CODEC, DATABASE, TEMPORAL
    from config.telemetry import configure_logging, tracing
    from workers.api_process import run_api_process

    settings = load_settings_or_exit(DATABASE, TEMPORAL, CODEC)
    configure_logging(settings.telemetry, component="api")
    with tracing(settings.telemetry, component="api") as tracer_provider:
        code = asyncio.run(run_api_process(settings, tracer_provider=tracer_provider))
    if code != 0:
        raise typer.Exit(code)
