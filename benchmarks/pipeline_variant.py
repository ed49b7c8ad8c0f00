"""One variant of the pipeline benchmark: its own worker and bridge processes, a warm-up, a
measured burst, and what it cost (see ``benchmarks/pipeline.py`` for the whole picture)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from benchmarks.pipeline_phases import (
    TARGET_STATUS,
    Meter,
    Window,
    change_statuses,
    history_costs,
    history_sample,
    latency_summary,
    measure,
)
from benchmarks.procstat import Measured, snapshot
from benchmarks.profiling import profiled
from contracts.ids import WORKFLOW_ID_PREFIX, workflow_id
from contracts.topics import ORDER_STATUS_V1, ORDER_VALIDATION_V1, dlq_topic
from loadgen.ledger import Ledger
from loadgen.observer import OutcomeObserver
from loadgen.orders import OrderFactory, OrderMix, correlation_id, correlation_prefix
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
    engine: AsyncEngine
    # Status changes through the API after the new orders (0: no API, no phase), then a burst
    # of invalid orders (0: none). Only for variants that run OrderWorkflow.
    status_changes: int = 0
    invalid: int = 0
    api_token: str | None = None
    # py-spy flame graphs and stacks of the worker and bridge during the new orders (None: off).
    profile_dir: Path | None = None


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
    # Per new order: history bytes and the sample's event types, database rows/bytes/WAL, log
    # lines/bytes per process, Kafka bytes/records per topic (benchmarks/pipeline_phases.py).
    history_bytes: float | None = None
    event_types: list[str] = field(default_factory=list)
    db: dict[str, Any] = field(default_factory=dict)
    logs: dict[str, dict[str, float]] = field(default_factory=dict)
    kafka: dict[str, dict[str, float]] = field(default_factory=dict)
    # The same figures per status change and per invalid order (None: phase not run).
    status_change: dict[str, Any] | None = None
    invalid: dict[str, Any] | None = None


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
) -> AsyncIterator[list[Proc]]:
    """The variant's worker and bridge (and the API when status changes are measured), ready;
    stopped on the way out."""
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
        if setup.status_changes and variant.workflow == "order":
            api_port = _free_port()
            api_env = {
                **env,
                "ORDERFLOW_API__HOST": "127.0.0.1",
                "ORDERFLOW_API__PORT": str(api_port),
            }
            api_argv = [sys.executable, "-m", "orderflow", "api"]
            started.append(
                Proc("api", api_argv, api_env, logs / f"{variant.name}-api.log", api_port)
            )
        for proc in started:
            await proc.ready()
        yield started
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


async def drive(
    variant: Variant,
    setup: Setup,
    *,
    topic: str,
    run_id: str,
    count: int,
    mix: OrderMix | None = None,
) -> Ledger:
    """Send ``count`` orders in one burst; return once each one opened (or completed, or was
    dead-lettered: ``mix`` with invalid orders)."""
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
        factory = OrderFactory(run_id, mix or setup.mix, order_prefix="BENCH")
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


async def idle_rates(measured: list[Measured], seconds: float) -> dict[str, float]:
    """CPU ms per second each process uses while no order flows (polling, timers, GC)."""
    if seconds <= 0:
        return {m.name: 0.0 for m in measured}
    before, start = snapshot(measured), time.monotonic()
    await asyncio.sleep(seconds)
    after, elapsed = snapshot(measured), time.monotonic() - start
    return {m.name: (after[m.name] - before[m.name]) / elapsed for m in measured}


def _sample(ids: list[str], size: int) -> list[str]:
    step = max(1, len(ids) // max(1, size))
    return ids[::step][:size]


def _window_fields(window: Window) -> dict[str, Any]:
    return {
        "db": window.db,
        "logs": window.logs,
        "kafka": window.kafka,
        "load_average": window.load_average,
    }


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
    is_order = variant.workflow == "order"
    async with processes(variant, setup, topic=topic, group=group, task_queue=task_queue) as own:
        await drive(variant, setup, topic=topic, run_id=f"{tag}-w", count=setup.warmup)
        measured = [Measured(p.name, p.popen.pid) for p in own] + setup.services
        meter = Meter(
            processes=measured,
            idle_ms_per_s=await idle_rates(measured, setup.idle_s),
            engine=setup.engine,
            log_paths={p.name: p.log for p in own},
            kafka_consumer=setup.kafka["consumer"],
            topics=(topic, dlq_topic(topic), ORDER_STATUS_V1, ORDER_VALIDATION_V1),
        )
        run_id = f"{tag}-m"
        ledgers: list[Ledger] = []

        async def new_orders() -> int:
            ledgers.append(
                await drive(variant, setup, topic=topic, run_id=run_id, count=setup.orders)
            )
            return setup.orders

        profile = (
            profiled(
                {p.name: p.popen.pid for p in own if p.name in ("worker", "bridge")},
                setup.profile_dir,
                tag,
            )
            if setup.profile_dir is not None
            else contextlib.nullcontext()
        )
        with profile:
            window = await measure(meter, correlation_prefix(run_id), new_orders)
        ledger = ledgers[0]
        opened = sorted(seq for seq, o in ledger.outcomes.items() if o.opened_ms is not None)
        order_ids = [ledger.sent[seq].order_id for seq in sorted(ledger.sent)]
        status_change = invalid = None
        api = next((p for p in own if p.name == "api"), None)
        # The status changes' orders (the first opened), whose histories serve both phases.
        targets = [
            (ledger.sent[seq].order_id, correlation_id(ledger.run_id, seq))
            for seq in (opened[: setup.status_changes] if api is not None else [])
        ]
        if is_order:
            sampled = _sample([order for order, _ in targets] or order_ids, setup.sample)
            at_open = await history_sample(setup.client, sampled)
            opened_costs = history_costs(at_open)
            if api is not None:
                latencies: list[float] = []

                async def changes() -> int:
                    latencies.extend(
                        await change_statuses(
                            f"http://127.0.0.1:{api.port}", setup.api_token, targets
                        )
                    )
                    return len(targets)

                status_window = await measure(meter, correlation_prefix(ledger.run_id), changes)
                changed = await history_sample(setup.client, list(at_open.events))
                status_change = {
                    "changes": status_window.units,
                    "to_status": int(TARGET_STATUS),
                    "seconds": status_window.elapsed_s,
                    "changes_per_s": round(status_window.units / status_window.elapsed_s, 1),
                    "latency_ms": latency_summary(latencies),
                    "cpu_ms_per_change": status_window.cpu_ms,
                    "gross_cpu_ms_per_change": status_window.gross_cpu_ms,
                    **history_costs(changed, before=at_open),
                    **_window_fields(status_window),
                }
            if setup.invalid:
                bad_run = f"{tag}-i"

                async def invalid_orders() -> int:
                    ledgers.append(
                        await drive(
                            variant,
                            setup,
                            topic=topic,
                            run_id=bad_run,
                            count=setup.invalid,
                            mix=replace(setup.mix, invalid_share=1.0),
                        )
                    )
                    return setup.invalid

                invalid_window = await measure(meter, correlation_prefix(bad_run), invalid_orders)
                bad = ledgers[-1]
                bad_ids = [bad.sent[seq].order_id for seq in sorted(bad.sent)]
                invalid = {
                    "orders": invalid_window.units,
                    "seconds": invalid_window.elapsed_s,
                    "dead_lettered": dict(bad.dead_lettered),
                    "cpu_ms_per_order": invalid_window.cpu_ms,
                    "gross_cpu_ms_per_order": invalid_window.gross_cpu_ms,
                    **history_costs(
                        await history_sample(setup.client, _sample(bad_ids, setup.sample))
                    ),
                    **_window_fields(invalid_window),
                }
    if not is_order:
        await record_close_times(setup.client, ledger)
        opened_costs = history_costs(
            await history_sample(setup.client, _sample(order_ids, setup.sample))
        )
    created = [s.timestamp_ms for s in ledger.sent.values() if s.timestamp_ms is not None]
    opened_ms = [o.opened_ms for o in ledger.outcomes.values() if o.opened_ms is not None]
    seconds = (max(opened_ms) - min(created)) / 1000
    return VariantResult(
        name=variant.name,
        title=variant.title,
        env=dict(variant.env),
        orders=setup.orders,
        seconds=round(seconds, 2),
        orders_per_s=round(setup.orders / seconds, 1),
        latency_ms=latency_summary(ledger.latencies_ms()),
        cpu_ms_per_order=window.cpu_ms,
        gross_cpu_ms_per_order=window.gross_cpu_ms,
        idle_cpu_ms_per_s={name: round(rate, 1) for name, rate in meter.idle_ms_per_s.items()},
        load_average=window.load_average,
        state_transitions=opened_costs["state_transitions"],
        history_events=opened_costs["history_events"],
        actions=opened_costs["actions"],
        actions_by_kind=opened_costs["actions_by_kind"],
        history_bytes=opened_costs["history_bytes"],
        event_types=opened_costs["event_types"],
        db=window.db,
        logs=window.logs,
        kafka=window.kafka,
        status_change=status_change,
        invalid=invalid,
    )
