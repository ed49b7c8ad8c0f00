"""``orderflow setup``: idempotent deploy-time provisioning (see :mod:`workers.setup_job`)."""

from __future__ import annotations

import asyncio

import typer

from orderflow.commands.common import load_settings_or_exit


def setup() -> None:
    """Migrate the database, create (or verify) the topics, register (or verify) the Temporal
    search attributes. Safe to run again; exits 1 naming anything it found missing.

    Needs ORDERFLOW_DATABASE__URL, ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS and
    ORDERFLOW_TEMPORAL__ADDRESS. On Event Hubs set ORDERFLOW_KAFKA__TOPIC_PROVISIONING=verify;
    on Temporal Cloud ORDERFLOW_TEMPORAL__SEARCH_ATTRIBUTE_PROVISIONING=verify.
    """
    from config.settings import CODEC, DATABASE, KAFKA, TEMPORAL
    from config.telemetry import configure_logging
    from config.temporal import temporal_client
    from workers.setup_job import run_setup

    settings = load_settings_or_exit(DATABASE, KAFKA, TEMPORAL, CODEC)
    configure_logging(settings.telemetry)

    async def provision() -> bool:
        client = await temporal_client(settings.temporal, settings.codec)
        report = await run_setup(settings, client, echo=typer.echo)
        return report.ok

    if not asyncio.run(provision()):
        raise typer.Exit(1)
