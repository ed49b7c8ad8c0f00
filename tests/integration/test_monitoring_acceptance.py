"""Acceptance of the monitoring (issue 10): the local stack with a real Prometheus, asserted
through Prometheus' HTTP API, as an operator's dashboards and alerts would see it.

One ``orderflow dev`` with monitoring on (Prometheus scraping every second, the alert rules
loaded) runs for the module, its Temporal reached through a proxy the test can cut. In order:

1. Orders are sent (valid, invalid, poison of both bridge stages) and two status changes made
   through the API: the counters in Prometheus match what was sent, the lag returns to 0, every
   dashboard query evaluates and every Order flow panel returns data.
2. Temporal becomes unreachable while orders keep arriving: the bridge pauses, and the lag and
   oldest-age series grow (the lag alert's expression for this shape is unit-tested with
   ``promtool test rules``); Temporal Core's complaints reach the worker's log as structured
   lines; once Temporal is back, the lag returns to 0.
3. Every metric a dashboard panel or an alert rule references is present, except the
   Temporal SDK counters of events this run does not provoke (:data:`EVENT_ONLY`).

The bridge starts orders as regular activities here (``ORDERFLOW_WORKFLOW__LOCAL_ACTIVITIES=
false``): the Temporal worker dashboard's activity panels and the activity schedule-to-start
alert read the SDK's regular-activity metrics, which local activities (the default) never
produce. The worker caches two workflows only, so the sticky-cache panels have misses and
evictions to show.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import ORDER_CREATE_V1, dlq_topic
from orderflow.devstack.net import free_port
from orderflow.devstack.supervisor import READY_LINE
from orderflow.devstack.temporal import start_temporal
from tests.fixtures.worker import order_message
from tests.helpers.ids import unique_order_id
from tests.helpers.waiting import wait_until
from tests.infra.test_monitoring import (
    alerts,
    catalogue,
    catalogued,
    prometheus_answer,
    queries,
    referenced_metrics,
    substitute_grafana_variables,
)
from tests.integration.devstack_support import DevStackRun
from tests.integration.test_probes import CuttableProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

T = TypeVar("T")
START_TIMEOUT_S = 180.0
# Counters of the Temporal SDK that exist only once their event happened, and neither happens
# here: no activity attempt fails (orders are valid or invalid by their data) and no workflow
# task fails (that takes a bug). Poll and request failures do happen, during the pause.
EVENT_ONLY = {
    "temporal_activity_execution_failed_total",
    "temporal_workflow_task_execution_failed_total",
}
VALID, INVALID = 4, 2


# --------------------------------------------------------------------------- the stack


class ThreadedProxy:
    """:class:`CuttableProxy` on an event loop of its own thread: it keeps forwarding while
    the test blocks (waiting for the stack, polling Prometheus)."""

    def __init__(self, host: str, port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy = CuttableProxy(host, port)
        self.restore()

    def _run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=30)

    def cut(self) -> None:
        self._run(self.proxy.cut)

    def restore(self) -> None:
        self._run(self.proxy.restore)

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    temporal: ThreadedProxy
    prometheus: str
    api: str
    bootstrap: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of ``expr`` now; an error answer fails the test."""
        answer = prometheus_answer(self.prometheus, expr)
        assert answer["status"] == "success", (expr, answer.get("error"))
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The single value of ``expr`` (None when the result is empty)."""
        result = self.query(expr)
        assert len(result) <= 1, (expr, result)
        return float(result[0]["value"][1]) if result else None

    def by(self, label: str, expr: str) -> dict[str, float]:
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(expr)}

    def until(self, expr: str, expected: float, *, timeout_s: float = 90.0) -> None:
        """Wait until ``expr`` evaluates to ``expected``."""

        def reached() -> bool:
            return self.value(expr) == expected

        wait_until(reached, timeout_s=timeout_s, interval_s=0.5, what=f"{expr} == {expected}")


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    # Outside pytest's tmp tree: as root, PostgreSQL runs as a user that must reach its data.
    scratch = Path(tempfile.mkdtemp(prefix="orderflow-monitoring-"))
    temporal = start_temporal(
        host="127.0.0.1",
        port=free_port(),
        ui_port=None,
        db_file=None,
        log_path=scratch / "temporal.log",
    )
    proxy = ThreadedProxy("127.0.0.1", temporal.port)
    ports = {
        name: str(free_port())
        for name in (
            "ORDERFLOW_DEV__BROKER_PORT",
            "ORDERFLOW_DEV__POSTGRES_PORT",
            "ORDERFLOW_DEV__WORKER_HTTP_PORT",
            "ORDERFLOW_DEV__BRIDGE_HTTP_PORT",
            "ORDERFLOW_DEV__PROMETHEUS_PORT",
            "ORDERFLOW_API__PORT",
        )
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    env.update(
        ports,
        ORDERFLOW_STATE_DIR=str(scratch / "state"),
        ORDERFLOW_TEMPORAL__ADDRESS=f"127.0.0.1:{proxy.proxy.port}",
        ORDERFLOW_DEV__MONITORING="true",
        ORDERFLOW_DEV__PROMETHEUS_SCRAPE_INTERVAL="1s",
        ORDERFLOW_BRIDGE__LAG_INTERVAL_S="1",
        ORDERFLOW_BRIDGE__BACKOFF_MAX_S="2",
        ORDERFLOW_API__STATEMENT_STATS_INTERVAL_S="2",
        ORDERFLOW_WORKFLOW__LOCAL_ACTIVITIES="false",
        ORDERFLOW_WORKER__MAX_CACHED_WORKFLOWS="2",
        ORDERFLOW_TELEMETRY__LOG_FORMAT="json",
    )
    run = DevStackRun(env)
    try:
        run.wait_for_line(READY_LINE, START_TIMEOUT_S)
        dev_env = (scratch / "state" / "dev.env").read_text()
        bootstrap = dev_env.split("ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS=")[1].split()[0]
        yield Stack(
            env=env,
            logs=scratch / "state" / "logs",
            temporal=proxy,
            prometheus=f"http://127.0.0.1:{ports['ORDERFLOW_DEV__PROMETHEUS_PORT']}",
            api=f"http://127.0.0.1:{ports['ORDERFLOW_API__PORT']}",
            bootstrap=bootstrap.strip("'\""),
        )
        assert run.interrupt() == 0
    finally:
        run.kill()
        proxy.close()
        temporal.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def send(bootstrap: str, values: list[bytes]) -> None:
    """Each record in its own request (and batch), in order, acknowledged by the broker."""

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for value in values:
                await producer.send_and_wait(ORDER_CREATE_V1, value, key=b"DC-01")
        finally:
            await producer.stop()

    asyncio.run(produce())


def json_lines(log: Path) -> list[dict[str, Any]]:
    """Every line a process wrote (the stack's own ``--- name: argv`` headers aside); a line
    that is not JSON fails: with LOG_FORMAT=json nothing may bypass the structured logger."""
    lines = []
    for text in log.read_text(errors="replace").splitlines():
        if text.strip() and not text.startswith("--- "):
            lines.append(json.loads(text))
    return lines


def core_lines(log: Path) -> list[dict[str, Any]]:
    return [line for line in json_lines(log) if line.get("logger") == "temporalio.core"]


LAG = f'sum(max by (topic, partition) (orderflow_bridge_consumer_lag{{topic="{ORDER_CREATE_V1}"}}))'
AGE = "max(orderflow_bridge_oldest_unprocessed_age_seconds)"
OPENED = "sum(orderflow_orders_opened_total)"


# --------------------------------------------------------------------------- 1. flow


def test_counters_match_what_was_sent_and_every_dashboard_query_answers(stack: Stack) -> None:
    stack.until('count(up{job=~"orderflow-.*"} == 1)', 3)
    run = uuid.uuid4().hex[:8]
    valid = [unique_order_id(f"MON{run}") for _ in range(VALID)]
    invalid = [unique_order_id(f"BAD{run}") for _ in range(INVALID)]
    send(
        stack.bootstrap,
        [order_message(order_id).encode() for order_id in valid]
        + [order_message(order_id, OrderLines=[]).encode() for order_id in invalid]
        + [b"not json", json.dumps({"ShipFromLocationID": "DC-01"}).encode()],
    )

    stack.until(OPENED, VALID)
    stack.until('sum(orderflow_bridge_records_total{outcome="started"})', VALID + INVALID)
    stack.until('sum(orderflow_bridge_records_total{outcome="dead_lettered"})', 2)
    stack.until("sum(orderflow_orders_failed_total)", INVALID)
    stack.until("sum(orderflow_dead_letters_total)", INVALID + 2)
    dlq = dlq_topic(ORDER_CREATE_V1)
    assert stack.by("stage", f'sum by (stage) (orderflow_dead_letters_total{{topic="{dlq}"}})') == {
        "DESERIALIZE": 1,
        "SCHEMA": 1,
        "VALIDATE": INVALID,
    }
    assert stack.by("error_type", "sum by (error_type) (orderflow_orders_failed_total)") == {
        "OrderValidationFailed": INVALID
    }
    assert stack.value("sum(orderflow_order_open_latency_seconds_count)") == VALID
    stack.until("sum(orderflow_bridge_start_latency_seconds_count)", VALID + INVALID)

    # Two status changes of one order through the API; the second completes its workflow.
    with httpx.Client(base_url=stack.api, timeout=30) as api:
        for status in (2000, 9000):
            answer = api.post(f"/orders/{valid[0]}/status", json={"ToStatus": status})
            assert answer.status_code == 200, answer.text
    stack.until('sum(orderflow_status_changes_total{to_status="1000"})', VALID)
    stack.until('sum(orderflow_status_changes_total{to_status="9000"})', 1)
    assert stack.value('sum(orderflow_status_changes_total{to_status="2000"})') == 1
    stack.until("sum(temporal_workflow_completed_total)", 1)
    assert (stack.value("sum(orderflow_activity_attempts_total)") or 0) > 0
    # The API's own requests by route template, and the statements it reads from PostgreSQL.
    stack.until(
        'sum(orderflow_api_requests_total{route="/orders/{order_id}/status",status="200"})', 2
    )
    wait_until(
        lambda: stack.query("orderflow_db_statement_calls_total") != [],
        timeout_s=60,
        what="statement metrics",
    )

    stack.until(LAG, 0)
    stack.until(AGE, 0)

    failures, empty = [], []
    for dashboard, title, expr in queries("prometheus"):
        try:
            result = stack.query(substitute_grafana_variables(expr))
        except AssertionError as error:
            failures.append((dashboard, title, str(error)))
            continue
        if dashboard == "order-flow.json" and not result:
            empty.append((title, expr))
    assert not failures
    assert not empty, "Order flow panels without data"


# --------------------------------------------------------------------------- 2. paused


def test_a_paused_bridge_makes_lag_and_oldest_age_grow(stack: Stack) -> None:
    opened_before = stack.value(OPENED) or 0
    stack.until(LAG, 0)
    stack.temporal.cut()
    try:
        send(stack.bootstrap, [order_message(unique_order_id("PAUSE")).encode() for _ in range(2)])
        stack.until("max(orderflow_bridge_paused)", 1)
        wait_until(lambda: (stack.value(LAG) or 0) >= 2, timeout_s=60, what="lag >= 2")
        lag_then, age_then = stack.value(LAG) or 0, stack.value(AGE) or 0

        # More orders arrive while nothing is committed: both series keep growing.
        send(stack.bootstrap, [order_message(unique_order_id("PAUSE")).encode() for _ in range(3)])
        wait_until(
            lambda: (stack.value(LAG) or 0) >= lag_then + 3,
            timeout_s=60,
            what=f"lag above {lag_then + 3}",
        )
        wait_until(
            lambda: (stack.value(AGE) or 0) >= age_then + 3,
            timeout_s=60,
            what=f"oldest age above {age_then + 3}",
        )
        # Prometheus saw both rise over the pause, not just two lucky samples.
        assert (stack.value(f"max(max_over_time(({LAG})[1m:1s]))") or 0) >= 5
        assert stack.value(f"max(deriv(({AGE})[20s:1s]))") == pytest.approx(1.0, abs=0.3)
        # The lag alert's own expression is true for this shape once its threshold is below
        # the lag (its `for:` and production threshold are promtool-tested with this shape).
        lag_alert = alerts()["OrderflowConsumerLagHigh"]["expr"].replace(
            "orderflow:alert_threshold:consumer_lag_records", "vector(4)"
        )
        assert stack.query(lag_alert), lag_alert
        # The worker's readiness asks Temporal through the worker's client: a failing request.
        with httpx.Client(timeout=30) as client:
            worker = f"http://127.0.0.1:{stack.env['ORDERFLOW_DEV__WORKER_HTTP_PORT']}"
            assert client.get(f"{worker}/health/ready").status_code == 503
        # The worker's pollers fail: Temporal Core says so through the structured logger.
        wait_until(
            lambda: any(
                line["level"] == "warning" and line["target"].startswith("temporalio_")
                for line in core_lines(stack.logs / "worker.log")
            ),
            timeout_s=90,
            what="Temporal Core's warnings in the worker's log",
        )
    finally:
        stack.temporal.restore()

    stack.until(LAG, 0, timeout_s=120)
    stack.until("max(orderflow_bridge_paused)", 0)
    stack.until(OPENED, opened_before + 5, timeout_s=120)
    assert stack.value('sum(orderflow_bridge_transient_failures_total{operation="start"})')


# --------------------------------------------------------------------------- 3. presence


def test_every_metric_a_dashboard_or_rule_reads_is_present(stack: Stack) -> None:
    referenced = referenced_metrics()
    assert referenced
    assert all(catalogued(name, catalogue()) for name in referenced)
    missing = {
        name: where
        for name, where in referenced.items()
        if name not in EVENT_ONLY and not stack.query(f"count({name})")
    }
    assert not missing, f"referenced but not exported: {missing}"
