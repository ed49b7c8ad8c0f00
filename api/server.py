"""Serving an app with uvicorn until a stop event, then shutting down gracefully: no new
connections, in-flight requests finish (up to ``graceful_shutdown_s``), then the lifespan
closes the engine and clients. Plain values only; ``orderflow api`` wires the settings."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (the only ones where auth may be off)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: after a graceful shutdown uvicorn
    re-raises the SIGTERM it caught, so the process would die by that signal instead of
    exiting 0. The caller handles signals and sets ``stop`` instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(
    app: FastAPI, *, host: str, port: int, stop: asyncio.Event, graceful_shutdown_s: float = 20
) -> int:
    """Serve ``app`` until ``stop`` is set; returns the exit code (0, or non-zero when the
    server could not start: port taken, lifespan failed — uvicorn logs why)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # The process's logging (structlog) formats uvicorn's lines too; the app's middleware
        # logs each request with its correlation ID instead of uvicorn's access log.
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=int(graceful_shutdown_s),
    )
    server = _Server(config)
    serving = asyncio.create_task(_serve_until_exit(server))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    code = await serving
    if code == 0 and not server.started and not stop.is_set():
        code = 1  # the lifespan failed at start-up
    return code


async def _serve_until_exit(server: uvicorn.Server) -> int:
    """Serve; uvicorn calls ``sys.exit`` when it cannot bind: return that code instead."""
    try:
        await server.serve()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0
