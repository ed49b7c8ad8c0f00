"""Serving an app with uvicorn until a stop event, then shutting down gracefully: no new
connections, in-flight requests finish (up to ``graceful_shutdown_s``), then the lifespan
closes the engine and clients. Plain values only; ``orderflow api`` wires the settings."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import uvicorn
from fastapi import FastAPI

from probes.http import SignalFreeServer, listen, server_config


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (the only ones where auth may be off)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(
    app: FastAPI, *, host: str, port: int, stop: asyncio.Event, graceful_shutdown_s: float = 20
) -> int:
    """Serve ``app`` until ``stop`` is set; returns the exit code (0, or non-zero when the
    server could not start: port taken, lifespan failed — uvicorn logs why)."""
    sock = listen(host, port)
    config = server_config(
        app,
        lifespan="on",
        proxy_headers=False,
        timeout_graceful_shutdown=int(graceful_shutdown_s),
    )
    server = SignalFreeServer(config)
    serving = asyncio.create_task(_serve_until_exit(server, sock))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    code = await serving
    if code == 0 and not server.started and not stop.is_set():
        code = 1  # the lifespan failed at start-up
    return code


async def _serve_until_exit(server: uvicorn.Server, sock: socket.socket) -> int:
    """Serve on ``sock``; uvicorn calls ``sys.exit`` when the lifespan fails at start-up: return
    that code instead."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        sock.close()
    return 0
