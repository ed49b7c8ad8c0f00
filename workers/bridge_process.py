"""The bridge process: settings -> Kafka options, Temporal client, probes -> :func:`run_bridge`.

Probes on ``ORDERFLOW_BRIDGE__HTTP_PORT``: ready while the consumer holds its share of the
group (see :mod:`bridges.status`) and Temporal answers; 503 from the moment SIGTERM arrives.
"""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from bridges.consumer import BridgeConfig
from bridges.metrics import BridgeMetrics
from bridges.runner import run_bridge
from bridges.starter import start_with_contract_helper
from bridges.status import BridgeStatus
from config.kafka import consumer_options, producer_options
from config.settings import Settings
from config.telemetry import temporal_interceptors
from config.temporal import temporal_client
from config.workflow import workflow_options
from probes.checks import check_temporal
from probes.server import ProbeServer
from workers.signals import stop_on_signals

PROBE_TIMEOUT_S = 2.0


async def run_bridge_process(settings: Settings, *, tracer_provider: TracerProvider | None) -> None:
    stop = stop_on_signals()
    # Lazy: the bridge starts even while Temporal is down, and backs off until it is up.
    client = await temporal_client(
        settings.temporal,
        settings.codec,
        lazy=True,
        interceptors=temporal_interceptors(tracer_provider),
    )
    status = BridgeStatus()
    probes = ProbeServer(
        component="bridge",
        checks={
            "kafka": status.check,
            "temporal": lambda: check_temporal(client, PROBE_TIMEOUT_S),
        },
        timeout_s=PROBE_TIMEOUT_S,
    )
    bridge = settings.bridge
    async with probes.serving(host=bridge.http_host, port=bridge.http_port, stop=stop):
        await run_bridge(
            consumer_options=consumer_options(settings.kafka, group_id=bridge.group_id),
            producer_options=producer_options(settings.kafka),
            client=client,
            start=start_with_contract_helper,
            config=BridgeConfig(
                max_in_flight=bridge.max_in_flight,
                max_message_bytes=settings.kafka.max_message_bytes,
                backoff_initial_s=bridge.backoff_initial_s,
                backoff_max_s=bridge.backoff_max_s,
                workflow_options=workflow_options(settings.workflow),
            ),
            metrics=BridgeMetrics.create(),
            stop=stop,
            tracer_provider=tracer_provider,
            status=status,
        )
