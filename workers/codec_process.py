"""The codec server process: settings -> :func:`codec.server.codec_app` beside the probes.

One port (``ORDERFLOW_CODEC__HOST``/``__PORT``) serves ``/encode`` and ``/decode`` (Temporal's
remote codec protocol) and ``/health/live``, ``/health/ready``, ``/metrics``. Ready while the
codec round-trips a payload with the active key.
"""

from __future__ import annotations

import structlog
from prometheus_client import REGISTRY, CollectorRegistry
from temporalio.api.common.v1 import Payload

from api.server import is_loopback
from codec.aes import AesGcmPayloadCodec
from codec.server import codec_app
from config.settings import CODEC, ConfigError, Settings, env_name
from config.temporal import payload_codec
from probes.checks import NotReadyError
from probes.http import listen
from probes.server import ProbeServer
from workers.signals import stop_on_signals

log = structlog.get_logger("orderflow.codec")


def codec_server_token(settings: Settings) -> str | None:
    """``ORDERFLOW_API__TOKEN``; required unless the server listens on a loopback address."""
    if settings.api.token is None:
        if not is_loopback(settings.codec.host):
            raise ConfigError(
                f"{env_name('api', 'token')} is not set (required when the codec server listens "
                f"on {settings.codec.host}; only a loopback address may decode without one)"
            )
        return None
    return settings.api.token.get_secret_value()


def codec_server_config(settings: Settings) -> tuple[AesGcmPayloadCodec, str | None]:
    """The codec and the token; :class:`ConfigError` when the keys (required here even with
    ``ORDERFLOW_CODEC__ENABLED=false``) or a needed token are missing."""
    if settings.codec.keys is None:
        raise ConfigError(f"{env_name(*CODEC)} is not set (the codec server decodes with it)")
    return payload_codec(settings.codec), codec_server_token(settings)


def build_codec_server(
    codec: AesGcmPayloadCodec,
    *,
    token: str | None,
    cors_origins: list[str],
    registry: CollectorRegistry = REGISTRY,
) -> ProbeServer:
    """The probe server (``/health/*``, ``/metrics``) with the codec endpoint mounted."""

    async def round_trip() -> None:
        probe = Payload(metadata={"encoding": b"json/plain"}, data=b'"ready"')
        if await codec.decode(await codec.encode([probe])) != [probe]:
            raise NotReadyError("the codec does not round-trip a payload")

    probes = ProbeServer(component="codec-server", checks={"codec": round_trip}, registry=registry)
    probes.app.mount(
        "/", codec_app(codec, token=token, cors_origins=cors_origins, registry=registry)
    )
    return probes


async def run_codec_server(settings: Settings) -> None:
    """Serve until SIGTERM / Ctrl-C."""
    stop = stop_on_signals()
    codec, token = codec_server_config(settings)
    probes = build_codec_server(codec, token=token, cors_origins=settings.codec.cors_origins)
    host, port = settings.codec.host, settings.codec.port
    async with probes.serving(sock=listen(host, port), stop=stop):
        log.info(
            "codec server serving",
            host=host,
            port=port,
            active_key_id=codec.active_key_id,
            key_ids=list(codec.key_ids),
            cors_origins=settings.codec.cors_origins,
            auth=token is not None,
        )
        await stop.wait()
    log.info("codec server stopped")
