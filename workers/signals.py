"""Process plumbing: stopping cleanly on SIGTERM (container stop) or Ctrl-C; a free port."""

from __future__ import annotations

import asyncio
import signal
import socket


def stop_on_signals() -> asyncio.Event:
    """An event that SIGTERM or SIGINT sets (call it inside the running event loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def free_loopback_port() -> int:
    """A port nobody listens on now, on 127.0.0.1 (for a process-internal endpoint)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
