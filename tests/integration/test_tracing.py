"""One trace per order: the producer's span (its ``traceparent`` header) -> the bridge's record
span -> workflow start -> workflow run -> (local) activities -> SQL statements and Kafka
publishes, whose events carry the trace on in their own ``traceparent`` header; and one trace
per API status change: request -> update -> workflow -> activities -> SQL. On the real broker,
Temporal and PostgreSQL.

Everything is wired the way the entry points wire it (``config.telemetry``), but with an
explicit tracer provider that keeps spans in memory: the global provider is never set, so no
other test sees these spans or this provider (OpenTelemetry allows a global one only once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer, ConsumerRecord
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities import names
from api.app import create_app
from api.deps import ApiDeps
from bridges.handler import StartOrder
from bridges.starter import start_order_workflow
from config.kafka import producer_options
from config.settings import KafkaSettings
from config.telemetry import (
    temporal_interceptors,
    trace_database,
    trace_http_app,
    untrace_database,
)
from contracts.ids import workflow_id
from contracts.topics import ORDER_STATUS_V1, ORDER_VALIDATION_V1
from db.engine import create_engine, create_session_factory
from tests.fixtures.worker import order_input, order_message
from tests.helpers.ids import unique, unique_order_id
from tests.helpers.starts import start_order, until_open
from tests.helpers.waiting import eventually
from tests.integration.bridge_support import private_topic, produce, read_all, running_bridge
from workers.order_worker import build_order_worker, order_activities

pytestmark = pytest.mark.integration

SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
# A producer's span, as its W3C header would carry it (version 00, sampled).
PRODUCER_TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
PRODUCER_SPAN_ID = 0x00F067AA0BA902B7
PRODUCER_TRACEPARENT = f"00-{PRODUCER_TRACE_ID:032x}-{PRODUCER_SPAN_ID:016x}-01"


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


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    return next((v.decode() for k, v in record.headers or () if k == name), None)


async def _events_of(
    bootstrap: str, topic: str, order_id: str
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records of ``topic`` whose event ID belongs to ``order_id``."""
    return [
        record
        for record in await read_all(bootstrap, topic)
        if (_header(record, "event-id") or "").startswith(f"{order_id}:")
    ]


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
    opened = f"RunActivity:{names.OPEN_ORDER}"

    async def order_is_open() -> None:
        assert any(span.name == opened for span in exporter.get_finished_spans())

    async with running_bridge(
        kafka_bootstrap,
        traced_client,
        topic,
        start=start_on_traced_queue,
        tracer_provider=tracer_provider,
    ):
        # The producer's own trace travels in the record's traceparent header.
        headers = [("traceparent", PRODUCER_TRACEPARENT.encode())]
        await produce(
            kafka_bootstrap, topic, [(b"DC-01", order_message(order_id).encode(), headers)]
        )
        await eventually(order_is_open, timeout_s=30)
    await traced_client.get_workflow_handle(workflow_id(order_id)).terminate("test done")

    spans = list(exporter.get_finished_spans())
    record = _one(spans, f"{topic} process")
    # The bridge continues the producer's trace: its span is the record span's parent.
    assert _trace_id(record) == PRODUCER_TRACE_ID
    assert _parent_id(record) == PRODUCER_SPAN_ID
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

    # The path to Open is one local activity, scheduled by the workflow and run under its
    # "StartActivity" span; its SQL statements and both publishes are its children.
    open_run = _one(in_trace, f"RunActivity:{names.OPEN_ORDER}")
    scheduled = next(s for s in in_trace if _span_id(s) == _parent_id(open_run))
    assert scheduled.name == f"StartActivity:{names.OPEN_ORDER}"

    sql = [
        span
        for span in in_trace
        if span.instrumentation_scope is not None
        and span.instrumentation_scope.name == SQL_SCOPE
        and _parent_id(span) == _span_id(open_run)
    ]
    assert sql, "no SQL span under the opening activity"
    assert any(
        "INSERT INTO orders" in str((s.attributes or {}).get("db.statement", "")) for s in sql
    )

    for topic_name in (ORDER_VALIDATION_V1, ORDER_STATUS_V1):
        publish = _one(in_trace, f"{topic_name} publish")
        assert publish.kind is SpanKind.PRODUCER
        assert _parent_id(publish) == _span_id(open_run)
        # The published event carries the trace on: its traceparent is the publish span.
        (event,) = await _events_of(kafka_bootstrap, topic_name, order_id)
        expected = f"00-{trace_id:032x}-{_span_id(publish):016x}-01"
        assert _header(event, "traceparent") == expected


async def test_a_status_change_through_the_api_is_traced_down_to_the_sql(
    traced_client: Client,
    traced_worker: str,
    tracer_provider: TracerProvider,
    exporter: InMemorySpanExporter,
    database_url: str,
) -> None:
    """The API's request span is the root of the request's trace, down to the update call.
    Temporal's tracing interceptor records the workflow's handling of an update in the
    workflow's own trace (the order's, started by the bridge) and *links* it to the caller's
    span: so the request trace leads, through that link, to the update handler, the persist
    activity and its SQL, and the published status event."""
    order_id = unique_order_id("TRACEAPI")
    handle = await start_order(traced_client, order_input(order_id), task_queue=traced_worker)
    await until_open(handle)
    exporter.clear()

    async def connect() -> Client:
        return traced_client

    app = create_app(
        ApiDeps(
            create_engine=lambda: create_engine(database_url, pool_size=2),
            connect_temporal=connect,
        )
    )
    trace_http_app(app, tracer_provider)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
            response = await api.post(f"/orders/{order_id}/status", json={"ToStatus": 9000})
            assert response.status_code == 200, response.text
            await api.get("/health/live")  # probes are not traced
    await handle.result()

    spans = list(exporter.get_finished_spans())
    request = _one(spans, "POST /orders/{order_id}/status")
    assert request.kind is SpanKind.SERVER
    assert request.parent is None
    assert not [span for span in spans if "/health" in span.name or "http send" in span.name]
    update_call = _one(spans, "StartWorkflowUpdate:change_status")
    assert _trace_id(update_call) == _trace_id(request)
    assert _parent_id(update_call) == _span_id(request)

    handler = _one(spans, "HandleUpdate:change_status")
    assert [(link.context.trace_id, link.context.span_id) for link in handler.links] == [
        (_trace_id(update_call), _span_id(update_call))
    ]
    in_order_trace = [span for span in spans if _trace_id(span) == _trace_id(handler)]
    persist = _one(in_order_trace, f"RunActivity:{names.PERSIST_STATUS_CHANGE}")
    assert any(
        span.instrumentation_scope is not None
        and span.instrumentation_scope.name == SQL_SCOPE
        and "UPDATE" in str((span.attributes or {}).get("db.statement", ""))
        and _parent_id(span) == _span_id(persist)
        for span in in_order_trace
    ), "no SQL UPDATE span under the status-change activity"
    assert _one(in_order_trace, f"{ORDER_STATUS_V1} publish").kind is SpanKind.PRODUCER
