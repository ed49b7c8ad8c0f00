"""Logging: JSON lines in production with bound context, from structlog and stdlib alike."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider

from config.settings import TelemetrySettings
from config.telemetry import (
    build_tracer_provider,
    configure_logging,
    configure_tracing,
    get_logger,
    log_context,
    otlp_traces_url,
    temporal_interceptors,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_uvicorn_color_copy_is_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(TelemetrySettings(log_format="json"))
    logging.getLogger("uvicorn.error").warning(
        "Started server process [%d]", 7, extra={"color_message": "\x1b[36m%d\x1b[0m"}
    )
    (line,) = _json_lines(capsys.readouterr().err)
    assert line["event"] == "Started server process [7]"
    assert "color_message" not in line


def test_json_lines_carry_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(TelemetrySettings(log_format="json", service_name="orderflow-test"))
    log = get_logger("orderflow.test")
    with log_context(order_id="ORD-1", workflow_id="order-ORD-1", correlation_id="c-1"):
        log.info("order started", topic="order.create.v1", partition=3, offset=42)
        logging.getLogger("temporalio.worker").warning("library %s", "line")
    log.info("outside")

    first, library, outside = _json_lines(capsys.readouterr().err)
    assert first["event"] == "order started"
    assert first["order_id"] == "ORD-1"
    assert first["workflow_id"] == "order-ORD-1"
    assert first["correlation_id"] == "c-1"
    assert (first["topic"], first["partition"], first["offset"]) == ("order.create.v1", 3, 42)
    assert first["service"] == "orderflow-test"
    assert first["level"] == "info"
    assert library["event"] == "library line"
    assert library["logger"] == "temporalio.worker"
    assert library["order_id"] == "ORD-1"
    assert "order_id" not in outside


def test_exceptions_are_logged_without_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(TelemetrySettings(log_format="json"))
    secret = "do-not-log-me"
    try:
        raise ValueError("boom")
    except ValueError:
        get_logger("t").exception("failed", note=len(secret))
    [line] = _json_lines(capsys.readouterr().err)
    assert line["event"] == "failed"
    assert "ValueError" in json.dumps(line["exception"])
    assert secret not in json.dumps(line)


def test_level_filters(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(TelemetrySettings(log_format="json", log_level="WARNING"))
    get_logger("t").info("hidden")
    logging.getLogger("x").info("hidden too")
    get_logger("t").warning("shown")
    assert [line["event"] for line in _json_lines(capsys.readouterr().err)] == ["shown"]


def test_console_format_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(TelemetrySettings(log_format="console"))
    with log_context(order_id="ORD-9"):
        get_logger("t").info("hello")
    err = capsys.readouterr().err
    assert "hello" in err
    assert "order_id=ORD-9" in err


def test_lines_logged_inside_a_span_carry_its_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(TelemetrySettings(log_format="json"))
    tracer = TracerProvider().get_tracer("test")  # not the global provider
    with tracer.start_as_current_span("work") as span:
        get_logger("t").info("inside")
        logging.getLogger("temporalio.activity").warning("library inside")
    get_logger("t").info("outside")

    inside, library, outside = _json_lines(capsys.readouterr().err)
    context = span.get_span_context()
    assert inside["trace_id"] == library["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == library["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in outside
    assert "span_id" not in outside


def test_tracing_is_off_without_an_endpoint() -> None:
    assert configure_tracing(TelemetrySettings(), component="worker") is None
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    assert temporal_interceptors(None) == []


def test_a_provider_names_its_process() -> None:
    provider = build_tracer_provider(TelemetrySettings(service_name="orders"), component="bridge")
    assert provider.resource.attributes["service.name"] == "orders-bridge"
    assert provider.resource.attributes["service.namespace"] == "orders"
    provider.shutdown()


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://otlp.example/v1/traces", "https://otlp.example/v1/traces"),
    ],
)
def test_the_endpoint_is_the_collector_base_url(endpoint: str, url: str) -> None:
    assert otlp_traces_url(endpoint) == url


class _Collector(BaseHTTPRequestHandler):
    requests: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_configured_tracing_exports_over_otlp_http() -> None:
    """In a child process, because it installs the global provider (once per process); the
    span is exported when the ``tracing`` block ends, as when an entry point exits."""
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    script = (
        "from opentelemetry import trace\n"
        "from config.settings import TelemetrySettings\n"
        "from config.telemetry import tracing\n"
        f"with tracing(TelemetrySettings(otlp_endpoint={endpoint!r}), component='worker'):\n"
        "    with trace.get_tracer('t').start_as_current_span('hello'):\n"
        "        pass\n"
    )
    try:
        subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()

    [(path, body)] = _Collector.requests
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "orderflow-worker"
    assert [s.name for scope in resource_spans.scope_spans for s in scope.spans] == ["hello"]


def test_temporal_info_is_a_field_not_repeated_in_the_message() -> None:
    from temporalio import activity, workflow

    from config.settings import TelemetrySettings
    from config.telemetry import configure_logging

    configure_logging(TelemetrySettings())
    assert workflow.logger.workflow_info_on_message is False
    assert activity.logger.activity_info_on_message is False


def test_lines_carry_the_service_of_the_component_and_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(TelemetrySettings(log_format="json", environment="staging"), component="api")
    get_logger("t").info("hello")
    logging.getLogger("uvicorn.error").warning("library")
    ours, library = _json_lines(capsys.readouterr().err)
    for line in (ours, library):
        assert line["service"] == "orderflow-api"
        assert line["environment"] == "staging"


class _CoreEntry:
    """What Temporal's log forwarding attaches to a record as ``temporal_log``."""

    target = "temporalio_client::retry"
    fields = {"error": "Status { code: Unavailable }", "attempt": 3, "nested": {"a": 1}}


def test_a_forwarded_temporal_core_line_is_structured(capsys: pytest.CaptureFixture[str]) -> None:
    """The record as ``LogForwardingConfig`` builds it (``config.temporal.core_logging``):
    target and fields become fields, not a repr of the entry object."""
    from config.temporal import CORE_LOGGER

    configure_logging(TelemetrySettings(log_format="json"), component="worker")
    logger = logging.getLogger(CORE_LOGGER)
    record = logger.makeRecord(
        CORE_LOGGER,
        logging.WARNING,
        "(sdk-core)",
        0,
        "gRPC call poll_workflow_task_queue retried 6 times",
        (),
        None,
        "(sdk-core)",
        {"temporal_log": _CoreEntry()},
    )
    logger.handle(record)
    [line] = _json_lines(capsys.readouterr().err)
    assert line["event"] == "gRPC call poll_workflow_task_queue retried 6 times"
    assert line["logger"] == CORE_LOGGER
    assert line["level"] == "warning"
    assert line["target"] == "temporalio_client::retry"
    assert line["attempt"] == 3
    assert line["nested"] == "{'a': 1}"
    assert "temporal_log" not in line
