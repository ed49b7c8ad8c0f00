"""The bridge process: settings -> Kafka options, Temporal client, probes -> :func:`run_bridge`.

Probes on ``ORDERFLOW_BRIDGE__HTTP_PORT``: ready while the consumer holds its share of the
group (see :mod:`bridges.status`) and Temporal answers; 503 from the moment SIGTERM arrives.

Before consuming, the bridge checks that the namespace has Orderflow's search attributes: every
start sets them, so without them Temporal would refuse every order and each would end in the
DLQ. That is a deployment fault (run ``orderflow setup``), not a bad message: the bridge refuses
to start, naming them (exit 2). While Temporal is unreachable it waits and asks again.
"""

from __future__ import annotations

import asyncio
import functools

import structlog
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY
from temporalio.client import Client

from bridges.backoff import StopRequestedError, retry_until_done
from bridges.consumer import BridgeConfig
from bridges.metrics import BridgeMetrics
from bridges.runner import run_bridge
from bridges.starter import StartFunction, is_transient, start_with_contract_helper
from bridges.status import BridgeStatus
from config.kafka import consumer_options, producer_options
from config.settings import ConfigError, Settings, env_name
from config.telemetry import temporal_interceptors
from config.temporal import forward_core_logs, temporal_client
from config.workflow import workflow_options
from probes.checks import check_temporal
from probes.http import listen
from probes.metrics import register_process_metrics
from probes.server import ProbeServer
from provisioning.search_attributes import describe, missing_search_attributes
from workers.signals import stop_on_signals

log = structlog.get_logger("orderflow.bridge")

PROBE_TIMEOUT_S = 2.0


async def require_search_attributes(client: Client, stop: asyncio.Event, *, max_s: float) -> None:
    """Raise :class:`ConfigError` naming the namespace's missing search attributes; retry
    (backing off) while Temporal cannot be asked."""

    def on_failure(error: BaseException, wait_s: float) -> None:
        log.warning("bridge.temporal_unreachable", error=repr(error), retry_in_s=round(wait_s, 2))

    missing = await retry_until_done(
        functools.partial(missing_search_attributes, client),
        is_transient=is_transient,
        initial_s=0.5,
        max_s=max_s,
        stop=stop,
        on_failure=on_failure,
    )
    if missing:
        raise ConfigError(
            f"namespace {client.namespace} lacks the search attributes {describe(missing)} "
            f"(run `orderflow setup`; {env_name('temporal', 'namespace')})"
        )


async def run_bridge_process(
    settings: Settings,
    *,
    tracer_provider: TracerProvider | None,
    start: StartFunction | None = None,
) -> None:
    """Consume ``ORDERFLOW_BRIDGE__TOPIC`` and start each order's workflow on the worker's task
    queue (``start``: another start function, for benchmarks) until SIGTERM."""
    stop = stop_on_signals()
    bridge = settings.bridge
    probe_socket = listen(bridge.http_host, bridge.http_port)  # a taken port fails first
    forward_core_logs(settings.telemetry.log_level)
    register_process_metrics(REGISTRY, component="bridge", build_id=settings.worker.build_id)
    # Lazy: the bridge starts even while Temporal is down, and backs off until it is up.
    client = await temporal_client(
        settings.temporal,
        settings.codec,
        lazy=True,
        interceptors=temporal_interceptors(tracer_provider),
    )
    try:
        await require_search_attributes(client, stop, max_s=settings.bridge.backoff_max_s)
    except StopRequestedError:
        return
    status = BridgeStatus()
    probes = ProbeServer(
        component="bridge",
        checks={
            "kafka": status.check,
            "temporal": lambda: check_temporal(client, PROBE_TIMEOUT_S),
        },
        timeout_s=PROBE_TIMEOUT_S,
    )
    async with probes.serving(sock=probe_socket, stop=stop):
        await run_bridge(
            consumer_options=consumer_options(settings.kafka, group_id=bridge.group_id),
            producer_options=producer_options(settings.kafka),
            client=client,
            start=start
            or functools.partial(
                start_with_contract_helper, task_queue=settings.temporal.task_queue
            ),
            config=BridgeConfig(
                topic=bridge.topic,
                max_in_flight=bridge.max_in_flight,
                max_message_bytes=settings.kafka.max_message_bytes,
                backoff_initial_s=bridge.backoff_initial_s,
                backoff_max_s=bridge.backoff_max_s,
                lag_interval_s=bridge.lag_interval_s,
                workflow_options=workflow_options(settings.workflow),
            ),
            metrics=BridgeMetrics.create(),
            stop=stop,
            tracer_provider=tracer_provider,
            status=status,
        )
