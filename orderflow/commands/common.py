"""What the command entry points share: loading settings and stopping on signals."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from orderflow.settings import Settings


def load_settings_or_exit() -> Settings:
    """The process settings; invalid ones end the command with their message and exit code 2."""
    from orderflow.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def stop_on_signals() -> asyncio.Event:
    """An event that SIGTERM or SIGINT sets (call it inside the running event loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
