"""Regenerates the committed histories in ``tests/histories/`` from real runs (dev server,
PostgreSQL, broker and the real worker), after an intended, compatible change of the main
paths; ``tests/unit/test_workflow_replay.py`` replays them. Skipped unless asked for::

    ORDERFLOW_REGENERATE_HISTORIES=1 pytest tests/integration/test_workflow_histories.py

The files are plain Temporal history JSON (as ``temporal workflow show --output json`` writes).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from contracts.workflow_io import ChangeStatusRequest, ChangeStatusResult, OrderStatusView
from tests.fixtures.worker import FAST_RETRIES, order_input, order_message
from tests.helpers.ids import unique_order_id
from tests.helpers.starts import start_order
from tests.helpers.waiting import eventually

# This release's histories (the package version); older releases' folders are kept.
RELEASE_HISTORIES = Path(__file__).resolve().parents[1] / "histories" / version("orderflow")
REGENERATE = os.environ.get("ORDERFLOW_REGENERATE_HISTORIES") == "1"

pytestmark = pytest.mark.integration

Handle = WorkflowHandle[object, OrderStatusView]


# Machine details that replay doesn't need: worker identities and sticky queues (pid@host) and
# stack traces (paths of the machine that recorded the run).
_SCRUBBED = {"identity": "orderflow-history", "stackTrace": ""}


def _scrubbed(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("kind") == "TASK_QUEUE_KIND_STICKY":  # named after the worker's host
            value = {**value, "name": "orderflow-history-sticky"}
        return {k: _SCRUBBED.get(k, _scrubbed(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item) for item in value]
    return value


def _save(path: Path, history: dict[str, Any]) -> None:
    path.write_text(json.dumps(history, indent=1) + "\n")


async def _change(handle: Handle, *statuses: int) -> None:
    for status in statuses:
        await handle.execute_update(
            "change_status", ChangeStatusRequest(to_status=status), result_type=ChangeStatusResult
        )


async def _open_to_returned(client: Client) -> Handle:
    handle = await start_order(client, order_input(unique_order_id("H")))
    await _wait_open(handle)
    await _change(handle, 2000, 3000, 3600, 3700, 7000, 8000, 8500)
    await handle.result()
    return handle


async def _delivered_return_window(client: Client) -> Handle:
    options = FAST_RETRIES.model_copy(update={"return_window": timedelta(seconds=1)})
    handle = await start_order(client, order_input(unique_order_id("H"), options=options))
    await _wait_open(handle)
    await _change(handle, 2000, 3000, 7000, 7500)
    await handle.result()
    return handle


async def _validation_failure(client: Client) -> Handle:
    order_id = unique_order_id("H")
    raw = order_message(order_id, ShipFromLocationID=None, OrderLines=[])
    handle = await start_order(client, order_input(order_id, raw))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle


async def _wait_open(handle: Handle) -> None:
    async def is_open() -> None:
        view = await handle.query("status", result_type=OrderStatusView)
        assert view.status_code == 1000

    await eventually(is_open)


SCENARIOS: dict[str, Callable[[Client], Awaitable[Handle]]] = {
    "open_to_returned": _open_to_returned,
    "delivered_return_window": _delivered_return_window,
    "validation_failure": _validation_failure,
}


@pytest.mark.skipif(not REGENERATE, reason="set ORDERFLOW_REGENERATE_HISTORIES=1 to regenerate")
async def test_regenerate_histories(
    order_worker: Worker, temporal_dev_env: WorkflowEnvironment
) -> None:
    RELEASE_HISTORIES.mkdir(parents=True, exist_ok=True)
    for name, scenario in SCENARIOS.items():
        handle = await asyncio.wait_for(scenario(temporal_dev_env.client), timeout=120)
        history = await handle.fetch_history()
        _save(RELEASE_HISTORIES / f"{name}.json", _scrubbed(history.to_json_dict()))
    assert {p.stem for p in RELEASE_HISTORIES.glob("*.json")} >= SCENARIOS.keys()
