"""``orderflow codec-server``: Temporal's remote codec endpoint (``/decode``, ``/encode``) for the
Web UI and the ``temporal`` CLI, on ORDERFLOW_CODEC__HOST/PORT, until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio

from orderflow.commands.common import load_settings_or_exit


def codec_server() -> None:
    """Decode payloads for the Temporal Web UI and CLI (needs ORDERFLOW_CODEC__KEYS;
    ORDERFLOW_API__TOKEN unless it listens on a loopback address; the UI's origin in
    ORDERFLOW_CODEC__CORS_ORIGINS)."""
    from config.telemetry import configure_logging
    from workers.codec_process import codec_server_config, run_codec_server

    settings = load_settings_or_exit()
    codec_server_config(settings)  # every ConfigError before logging starts
    configure_logging(settings.telemetry)
    asyncio.run(run_codec_server(settings))
