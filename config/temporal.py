"""The Temporal client of a process, from settings: self-hosted, dev server or Temporal Cloud,
with the payload codec (AES-256-GCM) unless ``ORDERFLOW_CODEC__ENABLED=false``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import TLSConfig

from codec.aes import AesGcmPayloadCodec
from config.settings import (
    CODEC,
    TEMPORAL,
    CodecSettings,
    ConfigError,
    TemporalSettings,
    env_name,
)
from workflows.metrics import ORDER_OPEN_LATENCY, ORDER_OPEN_LATENCY_BUCKETS

# Temporal Core (the SDK's Rust part) logs to this standard-library logger, so its lines are
# formatted by the process's structlog set-up (config.telemetry) like every other line.
CORE_LOGGER = "temporalio.core"
_CORE_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}
# Bucket boundaries (seconds) of the histograms our dashboards and alerts read, keyed by the name
# as created (the SDK's without its ``temporal_`` prefix): 1 s, the schedule-to-start alert
# threshold, is a boundary, so the p95 estimate is exact there.
_TASK_QUEUE_WAIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0)
HISTOGRAM_BUCKETS: Mapping[str, Sequence[float]] = {
    ORDER_OPEN_LATENCY.name: ORDER_OPEN_LATENCY_BUCKETS,
    "workflow_task_schedule_to_start_latency": _TASK_QUEUE_WAIT_BUCKETS,
    "activity_schedule_to_start_latency": _TASK_QUEUE_WAIT_BUCKETS,
}


def temporal_address(temporal: TemporalSettings) -> str:
    """``ORDERFLOW_TEMPORAL__ADDRESS``; :class:`ConfigError` naming it when unset."""
    if not temporal.address:
        raise ConfigError(f"{env_name(*TEMPORAL)} is not set")
    return temporal.address


def _tls(temporal: TemporalSettings) -> TLSConfig | bool:
    if temporal.tls_client_cert is not None and temporal.tls_client_key is not None:
        # mTLS (self-hosted or Temporal Cloud with certificates).
        return TLSConfig(
            client_cert=temporal.tls_client_cert.read_bytes(),
            client_private_key=temporal.tls_client_key.read_bytes(),
        )
    # An API key (Temporal Cloud) always needs TLS.
    return temporal.tls or temporal.api_key is not None


def core_logging(log_level: str) -> LoggingConfig:
    """Temporal Core's log lines, at the process's level, forwarded to :data:`CORE_LOGGER`
    (never written raw to stderr). The entry's target and fields arrive as the record's
    ``temporal_log`` attribute, which ``config.telemetry`` turns into structured fields."""
    return LoggingConfig(
        filter=TelemetryFilter(core_level=_CORE_LEVELS.get(log_level, "WARN"), other_level="ERROR"),
        forwarding=LogForwardingConfig(
            logger=logging.getLogger(CORE_LOGGER),
            append_target_to_name=False,
            prepend_target_on_message=False,
            append_log_fields_to_message=False,
        ),
    )


def metrics_runtime(bind_address: str, *, log_level: str = "INFO") -> Runtime:
    """A Temporal runtime whose SDK metrics (task slots, schedule-to-start, poll failures …)
    Prometheus can read at ``http://{bind_address}/metrics``: counters end in ``_total``,
    durations are seconds with a ``_seconds`` suffix. Also where workflow code's metric meter
    (business counters that replays don't repeat) is exported. Core's logs are forwarded."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=core_logging(log_level),
            metrics=PrometheusConfig(
                bind_address=bind_address,
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides=HISTOGRAM_BUCKETS,
            ),
        )
    )


def payload_codec(codec: CodecSettings) -> AesGcmPayloadCodec:
    """The codec of ``ORDERFLOW_CODEC__KEYS``; :class:`ConfigError` naming it when unset."""
    ring = codec.key_ring()
    if ring is None:
        raise ConfigError(f"{env_name(*CODEC)} is not set")
    return AesGcmPayloadCodec(ring, codec.active_key_id)


def data_converter(codec: CodecSettings) -> DataConverter:
    """The pydantic data converter, plus (unless disabled) the payload codec and a failure
    converter that moves failure messages and stack traces into an encoded payload too: an
    error message can quote a value (pydantic's do), and failures sit in history like inputs.
    Search attributes are never encoded (operators filter on them); the workflow's summary and
    details are (the SDK passes user metadata through the codec)."""
    if not codec.enabled:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=payload_codec(codec),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def forward_core_logs(log_level: str) -> None:
    """Make the default runtime (used by clients created without one: the bridge's, the API's)
    forward Core's log lines to :data:`CORE_LOGGER`. Call once, before the first client."""
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(logging=core_logging(log_level))),
        error_if_already_set=False,
    )


async def temporal_client(
    temporal: TemporalSettings,
    codec: CodecSettings,
    *,
    lazy: bool = False,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """A client with :func:`data_converter` (pydantic, plus the codec), like every Orderflow
    client; workers built from it share the converter.

    ``lazy``: connect on first use, so a process (the bridge, the API) can start while Temporal
    is down. ``interceptors``: e.g. ``config.telemetry.temporal_interceptors(provider)``;
    workers built from this client inherit those that are also worker interceptors.
    """
    return await Client.connect(
        temporal_address(temporal),
        namespace=temporal.namespace,
        data_converter=data_converter(codec),
        interceptors=interceptors,
        tls=_tls(temporal),
        api_key=temporal.api_key.get_secret_value() if temporal.api_key else None,
        lazy=lazy,
        runtime=runtime,
    )
