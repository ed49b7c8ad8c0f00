"""Temporal's remote codec endpoint, as an ASGI app: ``POST …/encode`` and ``POST …/decode``.

The protocol (what the Temporal Web UI and the ``temporal`` CLI send): the body is a
``temporal.api.common.v1.Payloads`` message in protobuf's JSON form, ``{"payloads": [{"metadata":
{"encoding": "<base64>"}, "data": "<base64>"}]}``, and the answer is the same shape. Only the
last path segment counts, so the endpoint may be mounted under a prefix (``/default/decode``).
Bad JSON or a payload the codec refuses (unknown key ID …) is a 400 with a JSON ``detail``.

* Auth: with a ``token``, each request needs ``Authorization: Bearer <token>`` (constant-time
  comparison); without one, auth is off (the entry point allows that only on loopback).
* CORS: browsers may call it from ``cors_origins`` only (the Web UI's origin); the preflight
  allows the headers the UI sends (``Content-Type``, ``X-Namespace``, ``Authorization``),
  credentials (the UI's "include cross-origin credentials" option) and private-network access.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence

import structlog
from google.protobuf import json_format
from prometheus_client import REGISTRY, CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

log = structlog.get_logger("orderflow.codec")

Operation = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]
# Larger bodies are refused before parsing (a Web UI page decodes a few payloads at a time).
MAX_BODY_BYTES = 16 * 1024 * 1024
CORS_HEADERS = ("Content-Type", "X-Namespace", "Authorization")


class CodecMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "orderflow_codec_requests",
            "Requests to the codec endpoint by operation (encode, decode) and outcome "
            "(ok, bad_request, unauthorized).",
            ["operation", "outcome"],
            registry=registry,
        )
        self.payloads = Counter(
            "orderflow_codec_payloads",
            "Payloads encoded or decoded by the codec endpoint.",
            ["operation"],
            registry=registry,
        )


def _problem(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


def codec_app(
    codec: PayloadCodec,
    *,
    token: str | None,
    cors_origins: Sequence[str] = (),
    registry: CollectorRegistry = REGISTRY,
) -> Starlette:
    """The endpoint for ``codec`` (see the module docstring)."""
    metrics = CodecMetrics(registry)

    def authorized(request: Request) -> bool:
        if token is None:
            return True
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(
            given.strip().encode(), token.encode()
        )

    def endpoint(name: str, operation: Operation) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if not authorized(request):
                metrics.requests.labels(name, "unauthorized").inc()
                return _problem(
                    401, "missing or invalid bearer token", **{"WWW-Authenticate": "Bearer"}
                )
            body = await request.body()
            try:
                if len(body) > MAX_BODY_BYTES:
                    raise ValueError(f"request body larger than {MAX_BODY_BYTES} bytes")
                payloads = json_format.Parse(body, Payloads())
                result = await operation(list(payloads.payloads))
            except (json_format.ParseError, ValueError, UnicodeDecodeError) as exc:
                metrics.requests.labels(name, "bad_request").inc()
                detail = (
                    "body is not a Payloads message in protobuf JSON"
                    if isinstance(exc, json_format.ParseError | UnicodeDecodeError)
                    else str(exc)
                )
                log.warning("codec request refused", operation=name, error=detail)
                return _problem(400, detail)
            metrics.requests.labels(name, "ok").inc()
            metrics.payloads.labels(name).inc(len(result))
            return Response(
                json_format.MessageToJson(Payloads(payloads=result), indent=None),
                media_type="application/json",
            )

        return handle

    encode, decode = endpoint("encode", codec.encode), endpoint("decode", codec.decode)
    return Starlette(
        routes=[
            Route("/encode", encode, methods=["POST"]),
            Route("/decode", decode, methods=["POST"]),
            Route("/{prefix:path}/encode", encode, methods=["POST"]),
            Route("/{prefix:path}/decode", decode, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(cors_origins),
                allow_methods=["POST"],
                allow_headers=list(CORS_HEADERS),
                allow_credentials=True,
                # A UI served from the internet (Temporal Cloud) calling a codec server on the
                # operator's machine or a private network: browsers ask for this explicitly.
                allow_private_network=True,
                max_age=600,
            )
        ],
    )
