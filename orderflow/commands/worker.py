"""``orderflow worker``: run the order worker (``OrderWorkflow`` + activities, task queue
``orders``) until SIGTERM or Ctrl-C, then drain in-flight tasks and exit 0."""

from __future__ import annotations

import asyncio
import signal

import typer


def worker() -> None:
    """Run the Temporal worker for orders (settings: ORDERFLOW_TEMPORAL__*, ORDERFLOW_WORKER__*)."""
    from orderflow.settings import SettingsError, load_settings
    from orderflow.telemetry import configure_logging

    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    configure_logging(settings.telemetry)
    asyncio.run(_run(settings))


async def _run(settings: object) -> None:
    from orderflow.settings import Settings
    from workers.order_worker import run_worker

    assert isinstance(settings, Settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The worker, its client, producer and engine are shut down inside run_worker, before the
    # interpreter exits (a temporalio process exiting with live clients can crash at exit).
    await run_worker(settings, stop=stop)
