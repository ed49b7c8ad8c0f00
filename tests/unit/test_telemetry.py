"""Logging: JSON lines in production with bound context, from structlog and stdlib alike."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from orderflow.settings import TelemetrySettings
from orderflow.telemetry import configure_logging, get_logger, log_context


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


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
