"""One pure-ASGI middleware around every request: correlation ID, metrics, a log line.

* ``X-Correlation-ID``: the incoming header is used when the contract's rule accepts it
  (:mod:`contracts.correlation`, the same rule the bridge applies to ``correlation-id``), else a
  new one is made; it is on every response (errors included), in
  ``request.state.correlation_id`` and bound to every log line written for the request.
* Metrics: count and latency per route template (see :mod:`api.metrics`).
* An exception no handler turned into a response becomes a logged 500 with the header, so
  even that response can be traced.
"""

from __future__ import annotations

import json
import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

from api.metrics import UNMATCHED_ROUTE, HttpMetrics
from contracts.correlation import accepted_correlation_id, new_correlation_id

CORRELATION_HEADER = "X-Correlation-ID"
# Probes and scrapes are frequent; their lines are logged at DEBUG.
_QUIET_PREFIXES = ("/health/", "/metrics")

log = structlog.get_logger("orderflow.api")


def incoming_correlation_id(raw: bytes | None) -> str | None:
    """The client's correlation ID when the contract's rule accepts it, else None."""
    # HTTP header values are bytes; latin-1 maps each one to a character, so nothing fails here.
    return accepted_correlation_id(None if raw is None else raw.decode("latin-1"))


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(CORRELATION_HEADER.lower().encode())
        correlation_id = incoming_correlation_id(raw) or new_correlation_id()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        status = 500
        started = False

        async def send_with_header(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        begin = time.perf_counter()
        with bound_contextvars(correlation_id=correlation_id):
            try:
                await self.app(scope, receive, send_with_header)
            except Exception:
                log.exception("unhandled error", path=scope["path"])
                if not started:
                    await _internal_error(send_with_header)
            finally:
                elapsed = time.perf_counter() - begin
                route = _route_template(scope)
                self.metrics.observe(scope["method"], route, status, elapsed)
                quiet = scope["path"].startswith(_QUIET_PREFIXES)
                (log.debug if quiet else log.info)(
                    "request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 1),
                )


async def _internal_error(send: Send) -> None:
    body = json.dumps({"detail": "internal server error"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
