"""The Temporal client of a process, from settings: local dev server, self-hosted or Cloud."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import TLSConfig

from orderflow.settings import Settings


def temporal_address(settings: Settings) -> str:
    """``ORDERFLOW_TEMPORAL__ADDRESS``, else the local stack's dev server."""
    return settings.temporal.address or f"{settings.dev.host}:{settings.dev.temporal_port}"


def _tls(settings: Settings) -> TLSConfig | bool:
    temporal = settings.temporal
    if temporal.tls_client_cert is not None and temporal.tls_client_key is not None:
        # mTLS (self-hosted or Temporal Cloud with certificates).
        return TLSConfig(
            client_cert=temporal.tls_client_cert.read_bytes(),
            client_private_key=temporal.tls_client_key.read_bytes(),
        )
    # An API key (Temporal Cloud) always needs TLS.
    return temporal.tls or temporal.api_key is not None


async def connect_temporal(
    settings: Settings, *, lazy: bool = False, interceptors: Sequence[Interceptor] = ()
) -> Client:
    """A client with the pydantic data converter, like every Orderflow client.

    ``lazy``: connect on first use, so a process (the bridge) can start while Temporal is down.
    ``interceptors``: e.g. ``orderflow.telemetry.temporal_interceptors(provider)``; workers
    built from this client inherit those that are also worker interceptors (tracing is).
    """
    temporal = settings.temporal
    return await Client.connect(
        temporal_address(settings),
        namespace=temporal.namespace,
        data_converter=pydantic_data_converter,
        interceptors=interceptors,
        tls=_tls(settings),
        api_key=temporal.api_key.get_secret_value() if temporal.api_key else None,
        lazy=lazy,
    )
