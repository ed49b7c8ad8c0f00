"""One trace per order: the bridge's record span -> workflow start -> workflow run -> (local)
activities -> SQL statements and Kafka publishes, on the real broker, Temporal and PostgreSQL.

Everything is wired the way the entry points wire it (``config.telemetry``), but with an
explicit tracer provider that keeps spans in memory: the global provider is never set, so no
other test sees these spans or this provider (OpenTelemetry allows a global one only once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities import names
from bridges.handler import StartOrder
from bridges.starter import start_order_workflow
from config.kafka import producer_options
from config.settings import KafkaSettings
from config.telemetry import temporal_interceptors, trace_database, untrace_database
from contracts.ids import workflow_id
from contracts.topics import ORDER_STATUS_V1, ORDER_VALIDATION_V1
from db.engine import create_engine, create_session_factory
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique, unique_order_id
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import private_topic, produce, running_bridge
from workers.order_worker import build_order_worker, order_activities

pytestmark = pytest.mark.integration

SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    yield spans
    spans.clear()


@pytest.fixture
def tracer_provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest_asyncio.fixture
async def traced_client(
    temporal_dev_env: WorkflowEnvironment, tracer_provider: TracerProvider
) -> Client:
    """The session's client with the tracing interceptor, as ``connect_temporal`` adds it."""
    config = temporal_dev_env.client.config()
    config["interceptors"] = temporal_interceptors(tracer_provider)
    return Client(**config)


@pytest_asyncio.fixture
async def traced_worker(
    traced_client: Client,
    tracer_provider: TracerProvider,
    database_url: str,
    kafka_bootstrap: str,
) -> AsyncIterator[str]:
    """A real worker on its own task queue, built from ``traced_client`` (whose interceptor it
    inherits), with a traced engine; yields the task queue."""
    task_queue = unique("traced")
    engine = create_engine(database_url, pool_size=2)
    trace_database(engine, tracer_provider)
    producer = AIOKafkaProducer(
        **producer_options(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    )
    await producer.start()
    try:
        activities = order_activities(
            create_session_factory(engine), producer, tracer_provider=tracer_provider
        )
        async with build_order_worker(traced_client, activities=activities, task_queue=task_queue):
            yield task_queue
    finally:
        untrace_database()
        await producer.stop()
        await engine.dispose()


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [span for span in spans if span.name == name]
    assert len(found) == 1, f"{name}: {[span.name for span in spans]}"
    return found[0]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent else None


def _span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def _trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


async def test_a_record_is_one_trace_from_the_bridge_to_sql_and_publish(
    traced_client: Client,
    traced_worker: str,
    tracer_provider: TracerProvider,
    exporter: InMemorySpanExporter,
    kafka_bootstrap: str,
) -> None:
    async def start_on_traced_queue(client: Client, request: StartOrder) -> object:
        return await start_order_workflow(client, request, task_queue=traced_worker)

    topic = await private_topic(kafka_bootstrap)
    order_id = unique_order_id("TRACE")
    opened = f"RunActivity:{names.PUBLISH_STATUS_EVENT}"

    async def order_is_open() -> None:
        assert any(span.name == opened for span in exporter.get_finished_spans())

    async with running_bridge(
        kafka_bootstrap,
        traced_client,
        topic,
        start=start_on_traced_queue,
        tracer_provider=tracer_provider,
    ):
        await produce(kafka_bootstrap, topic, [(b"DC-01", order_message(order_id).encode(), [])])
        await eventually(order_is_open, timeout_s=30)
    await traced_client.get_workflow_handle(workflow_id(order_id)).terminate("test done")

    spans = list(exporter.get_finished_spans())
    record = _one(spans, f"{topic} process")
    assert record.kind is SpanKind.CONSUMER
    assert record.attributes is not None
    assert record.attributes["messaging.system"] == "kafka"
    assert record.attributes["messaging.destination.name"] == topic
    assert record.attributes["orderflow.order_id"] == order_id
    assert record.attributes["orderflow.outcome"] == "started"
    assert {"messaging.destination.partition.id", "messaging.kafka.offset"} <= set(
        record.attributes
    )

    trace_id = _trace_id(record)
    in_trace = [span for span in spans if _trace_id(span) == trace_id]
    start = _one(in_trace, "StartWorkflow:OrderWorkflow")
    assert _parent_id(start) == _span_id(record)
    run = _one(in_trace, "RunWorkflow:OrderWorkflow")
    assert _parent_id(run) == _span_id(start)

    activity_runs = {
        name: _one(in_trace, f"RunActivity:{name}")
        for name in (
            names.VALIDATE_ORDER,
            names.PERSIST_NEW_ORDER,
            names.PUBLISH_VALIDATION_RESULT,
            names.PUBLISH_STATUS_EVENT,
        )
    }
    for name, activity_run in activity_runs.items():
        # Scheduled by the workflow (a local activity), run under its "StartActivity" span.
        scheduled = next(s for s in in_trace if _span_id(s) == _parent_id(activity_run))
        assert scheduled.name == f"StartActivity:{name}"

    persist = activity_runs[names.PERSIST_NEW_ORDER]
    sql = [
        span
        for span in in_trace
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name == SQL_SCOPE
        and _parent_id(span) == _span_id(persist)
    ]
    assert sql, "no SQL span under the persist activity"
    assert any(
        "INSERT INTO orders" in str((s.attributes or {}).get("db.statement", "")) for s in sql
    )

    for topic_name, activity_name in (
        (ORDER_VALIDATION_V1, names.PUBLISH_VALIDATION_RESULT),
        (ORDER_STATUS_V1, names.PUBLISH_STATUS_EVENT),
    ):
        publish = _one(in_trace, f"{topic_name} publish")
        assert publish.kind is SpanKind.PRODUCER
        assert _parent_id(publish) == _span_id(activity_runs[activity_name])
