"""The order worker: ``OrderWorkflow`` and its activities on task queue ``orders``.

One process holds one Temporal client (pydantic data converter), one database engine and one
Kafka producer (``acks=all``), shared by all activities. Shutdown is graceful: when ``stop`` is
set the worker stops polling, lets running activities finish for up to
``ORDERFLOW_WORKER__GRACEFUL_SHUTDOWN_S`` (then cancels them; Temporal retries them elsewhere),
and only then closes the producer and the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from opentelemetry.trace import TracerProvider
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig

from activities.metrics import ActivityAttemptMetrics
from activities.opening import OpeningActivities
from activities.persistence import PersistenceActivities
from activities.publishing import PublishingActivities, RecordSender
from activities.validation import ValidationActivities
from config.database import engine_from
from config.kafka import producer_options
from config.settings import Settings, WorkerSettings
from config.telemetry import temporal_interceptors, trace_database
from config.temporal import metrics_runtime, temporal_client
from contracts.workflow_io import TASK_QUEUE
from db.engine import create_session_factory
from probes.checks import check_database, check_polling
from probes.http import listen
from probes.metrics import register_process_metrics
from probes.server import ProbeServer, relay_metrics
from workers.activity_errors import DatabaseErrorRedaction
from workers.signals import free_loopback_port, stop_on_signals
from workflows.order import OrderWorkflow
from workflows.runner import order_workflow_runner

log = structlog.get_logger("orderflow.worker")

PROBE_TIMEOUT_S = 2.0


def order_activities(
    session_factory: async_sessionmaker[AsyncSession],
    producer: RecordSender,
    *,
    tracer_provider: TracerProvider | None = None,
) -> list[Callable[..., Any]]:
    """Every activity of ``OrderWorkflow``, bound to the process's shared dependencies.

    ``tracer_provider``: where publish spans go (default: the global one, a no-op unless
    tracing is configured).
    """
    validation = ValidationActivities()
    persistence = PersistenceActivities(session_factory)
    publishing = PublishingActivities(producer, tracer_provider=tracer_provider)
    return [
        OpeningActivities(persistence, publishing).open_order,
        # The steps one by one: the invalid-order path, and orders of releases before 0.2.0.
        validation.validate_order,
        persistence.persist_new_order,
        persistence.persist_status_change,
        publishing.publish_validation_result,
        publishing.publish_status_event,
        publishing.write_dead_letter,
    ]


def build_order_worker(
    client: Client,
    *,
    activities: Sequence[Callable[..., Any]],
    task_queue: str = TASK_QUEUE,
    max_concurrent_activities: int = 100,
    max_concurrent_workflow_tasks: int = 100,
    max_cached_workflows: int = 1000,
    graceful_shutdown: timedelta = timedelta(seconds=30),
    deployment: WorkerDeploymentConfig | None = None,
    sandbox: str = "off",
) -> Worker:
    """A worker for ``OrderWorkflow`` with the given activities, whose database errors leave
    them without order data (:mod:`workers.activity_errors`); ``deployment``: Worker Deployment
    Versioning (see :func:`deployment_config`); ``sandbox``: see
    :func:`workflows.runner.order_workflow_runner`. Every activity attempt is counted
    (:mod:`activities.metrics`)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[OrderWorkflow],
        activities=activities,
        interceptors=[DatabaseErrorRedaction(), ActivityAttemptMetrics()],
        max_cached_workflows=max_cached_workflows,
        workflow_runner=order_workflow_runner(sandbox),
        max_concurrent_activities=max_concurrent_activities,
        # The workflow's steps run as local activities by default: same limit.
        max_concurrent_local_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=graceful_shutdown,
        deployment_config=deployment,
    )


def deployment_config(worker: WorkerSettings) -> WorkerDeploymentConfig | None:
    """Worker Deployment Versioning when the worker knows its build (``ORDERFLOW_WORKER__BUILD_ID``,
    the image tag): the worker joins deployment ``ORDERFLOW_WORKER__DEPLOYMENT_NAME`` as that
    version, and receives tasks once the deploy sets the version current
    (``temporal worker deployment set-current-version``). Without a build ID (the local stack,
    tests) the worker is unversioned and takes every task of its queue.

    Auto-upgrade, set here as the worker's default (the workflow itself may not name a
    behaviour: Temporal refuses that on an unversioned worker): a running order moves to the
    newest version at its next workflow task, so orders that live for weeks never pin old
    workers. The price: every change must replay the histories of every released version
    (``tests/histories/``) — new behaviour is guarded with ``workflow.patched``
    (``docs/operations/workflow-changes.md``)."""
    if worker.build_id is None:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(
            deployment_name=worker.deployment_name, build_id=worker.build_id
        ),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


async def run_worker(settings: Settings, *, tracer_provider: TracerProvider | None = None) -> None:
    """Run the order worker until SIGTERM / Ctrl-C (or the worker fails), then shut down.

    With a ``tracer_provider`` (``config.telemetry.configure_tracing``) the workflow, its
    activities, their SQL statements and publishes are traced.
    """
    stop = stop_on_signals()
    http = settings.worker
    probe_socket = listen(http.http_host, http.http_port)  # a taken port fails before anything
    register_process_metrics(REGISTRY, component="worker", build_id=settings.worker.build_id)
    engine = engine_from(
        settings.database,
        application_name="orderflow-worker",
        metrics_registry=REGISTRY,
        # A dead pooled connection fails one activity attempt, which Temporal retries: not worth
        # a round trip on every checkout.
        pre_ping=False,
    )
    if tracer_provider is not None:
        trace_database(engine, tracer_provider)
    producer = AIOKafkaProducer(**producer_options(settings.kafka))
    # The SDK serves its metrics on a loopback port of its own; /metrics on the worker's port
    # relays them, so Prometheus scrapes one endpoint per process.
    sdk_metrics = f"127.0.0.1:{free_loopback_port()}"
    try:
        client = await temporal_client(
            settings.temporal,
            settings.codec,
            interceptors=temporal_interceptors(tracer_provider),
            runtime=metrics_runtime(sdk_metrics, log_level=settings.telemetry.log_level),
        )
        await producer.start()
        worker = build_order_worker(
            client,
            activities=order_activities(
                create_session_factory(engine), producer, tracer_provider=tracer_provider
            ),
            task_queue=settings.temporal.task_queue,
            max_concurrent_activities=settings.worker.max_concurrent_activities,
            max_concurrent_workflow_tasks=settings.worker.max_concurrent_workflow_tasks,
            max_cached_workflows=settings.worker.max_cached_workflows,
            graceful_shutdown=timedelta(seconds=settings.worker.graceful_shutdown_s),
            deployment=deployment_config(settings.worker),
            sandbox=settings.worker.sandbox,
        )
        log.info(
            "worker starting",
            task_queue=settings.temporal.task_queue,
            temporal=settings.temporal.address,
            namespace=settings.temporal.namespace,
            sandbox=settings.worker.sandbox,
        )
        probes = ProbeServer(
            component="worker",
            checks={
                "database": lambda: check_database(engine),
                "temporal": lambda: check_polling(client, worker.task_queue, PROBE_TIMEOUT_S),
            },
            extra_metrics=lambda: relay_metrics(f"http://{sdk_metrics}/metrics"),
            timeout_s=PROBE_TIMEOUT_S,
        )
        async with probes.serving(sock=probe_socket, stop=stop):
            await _run_until_stopped(worker, stop)
    finally:
        await producer.stop()
        await engine.dispose()
        log.info("worker stopped")


async def _run_until_stopped(worker: Worker, stop: asyncio.Event) -> None:
    """Run ``worker`` until ``stop`` is set; a worker that fails on its own re-raises here."""
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    log.info("worker running", task_queue=worker.task_queue)
    done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if running in done:
        stopping.cancel()
        running.result()  # raises the worker's fatal error
        return
    log.info("worker stopping: draining in-flight tasks")
    await worker.shutdown()
    await running
