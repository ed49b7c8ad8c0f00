"""One variant of the pipeline benchmark: its own worker and bridge processes, a warm-up, a
measured burst, and what it cost (see ``benchmarks/pipeline.py`` for the whole picture)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from temporalio.client import Client

from benchmarks.actions import billable_actions
from benchmarks.procstat import Measured, snapshot
from contracts.ids import WORKFLOW_ID_PREFIX, workflow_id
from contracts.topics import dlq_topic
from loadgen.ledger import Ledger, percentile
from loadgen.observer import OutcomeObserver
from loadgen.orders import OrderFactory, OrderMix, correlation_id
from loadgen.sender import send_all
from provisioning.topics import create_topics

REPO_ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 40.0


@dataclass(frozen=True)
class Variant:
    name: str
    title: str
    # "order": ``python -m orderflow worker`` + OrderWorkflow starts; "empty": the bare ceiling.
    workflow: str = "order"
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Setup:
    """What every variant shares."""

    client: Client
    kafka: dict[str, dict[str, Any]]  # producer / consumer / admin options
    services: list[Measured]
    partitions: int
    mix: OrderMix
    orders: int
    warmup: int
    sample: int
    timeout_s: float
    idle_s: float
    log_dir: Path
    run: str


@dataclass
class VariantResult:
    name: str
    title: str
    env: dict[str, str]
    orders: int
    seconds: float
    orders_per_s: float
    latency_ms: dict[str, float | None]
    # Net of each process's idle use (polling, timers) over the burst's duration; gross below.
    cpu_ms_per_order: dict[str, float]
    gross_cpu_ms_per_order: dict[str, float]
    idle_cpu_ms_per_s: dict[str, float]
    state_transitions: float | None = None
    history_events: float | None = None
    actions: float | None = None
    actions_by_kind: dict[str, float] = field(default_factory=dict)
    load_average: tuple[float, float] = (0.0, 0.0)


class Proc:
    """A child process with a log file and a readiness URL."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path, port: int):
        self.name, self.log, self.port = name, log, port
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
            )

    async def ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        url = f"http://127.0.0.1:{self.port}/health/ready"
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                if self.popen.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} not ready in {READY_TIMEOUT_S:.0f} s: {self.log}"
                    )
                await asyncio.sleep(0.25)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def processes(
    variant: Variant, setup: Setup, *, topic: str, group: str, task_queue: str
) -> AsyncIterator[list[Measured]]:
    """The variant's worker and bridge, ready; stopped on the way out."""
    env = {**os.environ, **variant.env, "PYTHONPATH": str(REPO_ROOT)}
    # Containers log JSON (ORDERFLOW_TELEMETRY__LOG_FORMAT=json): measure that, unless told.
    env.setdefault("ORDERFLOW_TELEMETRY__LOG_FORMAT", "json")
    worker_port, bridge_port = _free_port(), _free_port()
    if variant.workflow == "order":
        worker_argv = [sys.executable, "-m", "orderflow", "worker"]
    else:
        worker_argv = [sys.executable, "-m", "benchmarks.pipeline_procs", "bare-worker"]
        worker_argv += ["--task-queue", task_queue, "--port", str(worker_port)]
    worker_env = {
        **env,
        "ORDERFLOW_TEMPORAL__TASK_QUEUE": task_queue,
        "ORDERFLOW_WORKER__HTTP_HOST": "127.0.0.1",
        "ORDERFLOW_WORKER__HTTP_PORT": str(worker_port),
    }
    bridge_argv = [sys.executable, "-m", "benchmarks.pipeline_procs", "bridge"]
    bridge_argv += ["--task-queue", task_queue, "--port", str(bridge_port), "--topic", topic]
    bridge_argv += ["--group", group, "--workflow", variant.workflow]
    logs = setup.log_dir
    started: list[Proc] = []
    try:
        started.append(
            Proc(
                "worker", worker_argv, worker_env, logs / f"{variant.name}-worker.log", worker_port
            )
        )
        started.append(
            Proc("bridge", bridge_argv, env, logs / f"{variant.name}-bridge.log", bridge_port)
        )
        for proc in started:
            await proc.ready()
        yield [Measured(p.name, p.popen.pid) for p in started]
    finally:
        for proc in reversed(started):
            proc.stop()


def _empty_runs(ledger: Ledger) -> str:
    """The visibility query of a burst's empty workflows that completed."""
    prefix = workflow_id(f"BENCH-{ledger.run_id}-")
    return f"WorkflowId STARTS_WITH '{prefix}' AND ExecutionStatus = 'Completed'"


async def _all_completed(client: Client, ledger: Ledger) -> bool:
    return (await client.count_workflows(_empty_runs(ledger))).count >= ledger.acked


async def record_close_times(client: Client, ledger: Ledger) -> None:
    """The bare ceiling's "Open": each empty workflow's close time (read after the CPU
    snapshot: listing thousands of runs costs the server CPU the orders did not)."""
    by_order = {sent.order_id: seq for seq, sent in ledger.sent.items()}
    async for execution in client.list_workflows(_empty_runs(ledger)):
        seq = by_order.get(execution.id.removeprefix(WORKFLOW_ID_PREFIX))
        if seq is not None and execution.close_time is not None:
            closed_ms = int(execution.close_time.timestamp() * 1000)
            ledger.on_open(correlation_id(ledger.run_id, seq), execution.id, closed_ms, 0.0)


async def drive(variant: Variant, setup: Setup, *, topic: str, run_id: str, count: int) -> Ledger:
    """Send ``count`` orders in one burst; return once each one opened (or completed)."""
    ledger = Ledger(run_id)
    observer = None
    if variant.workflow == "order":
        observer = OutcomeObserver(
            setup.kafka["consumer"],
            source_topic=topic,
            ledger=ledger,
            clock=time.monotonic,
            fetch_max_wait_ms=500,  # fewer idle fetches: the broker's CPU is measured
        )
        await observer.start()
    producer = AIOKafkaProducer(**setup.kafka["producer"])
    await producer.start()
    deadline = time.monotonic() + setup.timeout_s
    try:
        factory = OrderFactory(run_id, setup.mix, order_prefix="BENCH")
        await send_all(
            producer,
            topic,
            factory,
            ledger,
            count=count,
            rate=None,
            clock=time.monotonic,
            known_ends={},
        )
        while not ledger.all_accounted():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{variant.name}: {ledger.in_flight} orders still open")
            if observer is None:
                if await _all_completed(setup.client, ledger):
                    break
                await asyncio.sleep(1.0)  # a cheap count query per second
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ledger.settled.wait(), timeout=1.0)
    finally:
        await producer.stop()
        if observer is not None:
            await observer.stop()
    return ledger


async def temporal_costs(client: Client, order_ids: list[str]) -> dict[str, Any]:
    """Mean state transitions, history events and billable actions of these orders' runs."""
    transitions, events, totals = [], [], []
    kinds: Counter[str] = Counter()
    for order_id in order_ids:
        handle = client.get_workflow_handle(workflow_id(order_id))
        info = (await handle.describe()).raw_description.workflow_execution_info
        transitions.append(info.state_transition_count)
        events.append(info.history_length)
        actions = billable_actions(await handle.fetch_history())
        kinds.update(actions)
        totals.append(sum(actions.values()))
    n = max(1, len(order_ids))
    return {
        "state_transitions": statistics.mean(transitions) if transitions else None,
        "history_events": statistics.mean(events) if events else None,
        "actions": statistics.mean(totals) if totals else None,
        "actions_by_kind": {kind: round(v / n, 2) for kind, v in sorted(kinds.items())},
    }


async def idle_rates(measured: list[Measured], seconds: float) -> dict[str, float]:
    """CPU ms per second each process uses while no order flows (polling, timers, GC)."""
    if seconds <= 0:
        return {m.name: 0.0 for m in measured}
    before, start = snapshot(measured), time.monotonic()
    await asyncio.sleep(seconds)
    after, elapsed = snapshot(measured), time.monotonic() - start
    return {m.name: (after[m.name] - before[m.name]) / elapsed for m in measured}


def per_order(
    before: dict[str, float],
    after: dict[str, float],
    *,
    orders: int,
    idle_ms_per_s: dict[str, float] | None = None,
    seconds: float = 0.0,
) -> dict[str, float]:
    """CPU ms per order of each process (net of its idle use when ``idle_ms_per_s`` is given)."""
    cost = {}
    for name in before:
        used = after[name] - before[name]
        if idle_ms_per_s is not None:
            used = max(0.0, used - idle_ms_per_s[name] * seconds)
        cost[name] = round(used / orders, 2)
    cost["total"] = round(sum(cost.values()), 2)
    return cost


async def run_variant(variant: Variant, setup: Setup) -> VariantResult:
    tag = f"{setup.run}-{variant.name}"
    topic, group, task_queue = f"bench.{tag}", f"bench-{tag}", f"bench-{tag}"
    await create_topics(
        setup.kafka["admin"],
        partitions=setup.partitions,
        replication_factor=1,
        retention_ms=3_600_000,
        topics=[topic, dlq_topic(topic)],
    )
    async with processes(variant, setup, topic=topic, group=group, task_queue=task_queue) as own:
        await drive(variant, setup, topic=topic, run_id=f"{tag}-w", count=setup.warmup)
        measured = own + setup.services
        idle = await idle_rates(measured, setup.idle_s)
        load_before = os.getloadavg()[0]
        before, start = snapshot(measured), time.monotonic()
        ledger = await drive(variant, setup, topic=topic, run_id=f"{tag}-m", count=setup.orders)
        after, elapsed = snapshot(measured), time.monotonic() - start
        load_after = os.getloadavg()[0]
    if variant.workflow != "order":
        await record_close_times(setup.client, ledger)
    created = [s.timestamp_ms for s in ledger.sent.values() if s.timestamp_ms is not None]
    opened = [o.opened_ms for o in ledger.outcomes.values() if o.opened_ms is not None]
    seconds = (max(opened) - min(created)) / 1000
    latencies = ledger.latencies_ms()
    step = max(1, setup.orders // max(1, setup.sample))
    sample = [ledger.sent[seq].order_id for seq in sorted(ledger.sent)[::step]][: setup.sample]
    return VariantResult(
        name=variant.name,
        title=variant.title,
        env=dict(variant.env),
        orders=setup.orders,
        seconds=round(seconds, 2),
        orders_per_s=round(setup.orders / seconds, 1),
        latency_ms={f"p{q}": percentile(latencies, q / 100) for q in (50, 95, 99)},
        cpu_ms_per_order=per_order(
            before, after, orders=setup.orders, idle_ms_per_s=idle, seconds=elapsed
        ),
        gross_cpu_ms_per_order=per_order(before, after, orders=setup.orders),
        idle_cpu_ms_per_s={name: round(rate, 1) for name, rate in idle.items()},
        load_average=(round(load_before, 2), round(load_after, 2)),
        **await temporal_costs(setup.client, sample),
    )
