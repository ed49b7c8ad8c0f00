"""Serving an ASGI app with uvicorn inside a process's own event loop.

Shared by the API, the probe servers of the worker and the bridge, and the codec server:

* :func:`listen` binds the port *first*, synchronously, so a process whose port is taken fails
  at once with :class:`ListenError` (one line, exit code 1) — before it connects to anything —
  instead of uvicorn calling ``sys.exit`` from inside a task.
* :class:`SignalFreeServer` leaves signals to the process: after a graceful shutdown uvicorn
  re-raises the SIGTERM it caught, so the process would die by that signal instead of exiting 0.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import uvicorn


class ListenError(OSError):
    """The port cannot be bound (taken, or not allowed); the message names it."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` for uvicorn's ``serve(sockets=...)``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.set_inheritable(True)
    return sock


class SignalFreeServer(uvicorn.Server):
    """uvicorn's server without its own signal handling; the caller stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(app: object, **options: object) -> uvicorn.Config:
    """uvicorn settings every Orderflow server shares: the process's structured logging formats
    uvicorn's lines (no access log: the API's middleware logs each request with its correlation
    ID), no ``Server`` header."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_config=None,
        access_log=False,
        server_header=False,
        **options,  # type: ignore[arg-type]
    )
