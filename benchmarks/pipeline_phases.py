"""The measured phases of a pipeline variant and what each costs per unit of work: new orders
(Kafka -> Open), status changes (``POST /orders/{id}/status`` -> the workflow's update) and
invalid orders (Kafka -> validation failure -> DLQ).

Every phase is measured the same way (:func:`measure`): CPU of each process tree from
``/proc`` net of its idle use, and - read outside the CPU window - database rows/bytes/WAL,
log lines/bytes of the variant's processes and Kafka bytes per topic of the phase's records.
Temporal actions, history events and history bytes come from the histories of a sample
(:func:`history_sample`); a status change's are what its update added to the order's history.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from benchmarks.actions import billable_actions, event_type_names, history_bytes, run_task_timeout
from benchmarks.footprint import KafkaBytes, db_growth, db_state, log_growth, log_sizes
from benchmarks.procstat import Measured, snapshot
from contracts.ids import workflow_id
from contracts.status import OrderStatus
from loadgen.ledger import percentile

# Requests in flight at once in the status-change phase (the API's share of a busy hour).
STATUS_CONCURRENCY = 16
STATUS_TIMEOUT_S = 60.0
# The transition every measured order takes: Open -> Allocated.
TARGET_STATUS = OrderStatus.ALLOCATED


@dataclass
class Window:
    """What a phase cost per unit of work (``units``: orders or status changes)."""

    units: int
    elapsed_s: float
    cpu_ms: dict[str, float]  # net of idle use
    gross_cpu_ms: dict[str, float]
    db: dict[str, Any]
    logs: dict[str, dict[str, float]]
    kafka: dict[str, dict[str, float]]
    load_average: tuple[float, float]


def per_unit(
    before: dict[str, float],
    after: dict[str, float],
    *,
    units: int,
    idle_ms_per_s: dict[str, float] | None = None,
    seconds: float = 0.0,
) -> dict[str, float]:
    """CPU ms per unit of each process (net of its idle use when ``idle_ms_per_s`` is given)."""
    cost = {}
    for name in before:
        used = after[name] - before[name]
        if idle_ms_per_s is not None:
            used = max(0.0, used - idle_ms_per_s[name] * seconds)
        cost[name] = round(used / max(1, units), 2)
    cost["total"] = round(sum(cost.values()), 2)
    return cost


@dataclass
class Meter:
    """Everything :func:`measure` reads, shared by a variant's phases."""

    processes: list[Measured]
    idle_ms_per_s: dict[str, float]
    engine: AsyncEngine
    log_paths: dict[str, Path]
    kafka_consumer: dict[str, Any]
    topics: tuple[str, ...]


async def measure(meter: Meter, prefix: str, work: Callable[[], Awaitable[int]]) -> Window:
    """Run ``work`` (it returns how many units it did) inside the CPU window; ``prefix``: the
    correlation-ID prefix of the phase's Kafka records."""
    kafka = KafkaBytes(meter.kafka_consumer, meter.topics)
    await kafka.mark()
    db_before, logs_before = await db_state(meter.engine), log_sizes(meter.log_paths)
    load_before = os.getloadavg()[0]
    cpu_before, start = snapshot(meter.processes), time.monotonic()
    units = await work()
    cpu_after, elapsed = snapshot(meter.processes), time.monotonic() - start
    load_after = os.getloadavg()[0]
    db_after, logs_after = await db_state(meter.engine), log_sizes(meter.log_paths)
    await kafka.read(prefix)
    return Window(
        units=units,
        elapsed_s=round(elapsed, 2),
        cpu_ms=per_unit(
            cpu_before,
            cpu_after,
            units=units,
            idle_ms_per_s=meter.idle_ms_per_s,
            seconds=elapsed,
        ),
        gross_cpu_ms=per_unit(cpu_before, cpu_after, units=units),
        db=await db_growth(meter.engine, db_before, db_after, units),
        logs=log_growth(logs_before, logs_after, units),
        kafka=kafka.per(units),
        load_average=(round(load_before, 2), round(load_after, 2)),
    )


@dataclass
class HistorySample:
    """Histories of a sample of runs: their events now, to count what a later phase adds."""

    events: dict[str, list[HistoryEvent]] = field(default_factory=dict)
    transitions: dict[str, int] = field(default_factory=dict)


async def history_sample(client: Client, order_ids: list[str]) -> HistorySample:
    sample = HistorySample()
    for order_id in order_ids:
        handle = client.get_workflow_handle(workflow_id(order_id))
        info = (await handle.describe()).raw_description.workflow_execution_info
        sample.transitions[order_id] = info.state_transition_count
        sample.events[order_id] = list((await handle.fetch_history()).events)
    return sample


def history_costs(now: HistorySample, before: HistorySample | None = None) -> dict[str, Any]:
    """Mean history events, bytes, state transitions and billable actions per run of the
    sample - of the whole run, or of what it added since ``before``. ``event_types``: the
    added events of the first run of the sample, to show which event billed what."""
    events, sizes, transitions, totals = [], [], [], []
    kinds: Counter[str] = Counter()
    first: list[HistoryEvent] = []
    for order_id, history in now.events.items():
        known = before.events.get(order_id, []) if before else []
        added = history[len(known) :]
        actions = billable_actions(added, task_timeout=run_task_timeout(history))
        kinds.update(actions)
        totals.append(sum(actions.values()))
        events.append(len(added))
        sizes.append(history_bytes(added))
        transitions.append(
            now.transitions[order_id] - (before.transitions.get(order_id, 0) if before else 0)
        )
        first = first or added
    n = max(1, len(now.events))
    return {
        "runs": len(now.events),
        "actions": statistics.mean(totals) if totals else None,
        "actions_by_kind": {kind: round(v / n, 2) for kind, v in sorted(kinds.items())},
        "history_events": statistics.mean(events) if events else None,
        "history_bytes": round(statistics.mean(sizes), 1) if sizes else None,
        "state_transitions": statistics.mean(transitions) if transitions else None,
        "event_types": event_type_names(first),
    }


async def change_statuses(
    base_url: str, token: str | None, targets: list[tuple[str, str]]
) -> list[float]:
    """``POST /orders/{id}/status`` (to Allocated) for each (order ID, correlation ID), a few at
    a time; returns the latencies in ms, ascending. Raises on any answer but 200."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    gate = asyncio.Semaphore(STATUS_CONCURRENCY)
    latencies: list[float] = []
    failures: list[str] = []

    async def change(http: httpx.AsyncClient, order_id: str, correlation: str) -> None:
        async with gate:
            start = time.monotonic()
            response = await http.post(
                f"/orders/{order_id}/status",
                json={"ToStatus": int(TARGET_STATUS), "Reason": "benchmark"},
                headers={**headers, "X-Correlation-ID": correlation},
            )
            latencies.append((time.monotonic() - start) * 1000)
            if response.status_code != 200:
                failures.append(f"{order_id}: {response.status_code} {response.text[:200]}")

    async with httpx.AsyncClient(base_url=base_url, timeout=STATUS_TIMEOUT_S) as http:
        await asyncio.gather(*(change(http, o, c) for o, c in targets))
    if failures:
        raise RuntimeError(f"{len(failures)} status changes failed, e.g. {failures[:3]}")
    return sorted(latencies)


def latency_summary(sorted_ms: list[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(sorted_ms, q / 100) for q in (50, 95, 99)}
