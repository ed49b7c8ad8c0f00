"""Replays the committed histories of every released version against today's ``OrderWorkflow``.

``tests/histories/<release>/`` holds histories recorded with the workflow code of that release
(the package version). Orders live for weeks and the worker fleet auto-upgrades running
workflows, so today's code must replay every release's histories whose orders may still run. A
failure here means a code change is not deterministic for orders that are already running:
guard it with ``workflow.patched(...)`` or keep the old behaviour
(``docs/operations/workflow-changes.md``). When releasing a workflow change, record the new
release's histories from a real run (dev server, PostgreSQL, broker and the real worker), keeping
the older releases' folders::

    ORDERFLOW_REGENERATE_HISTORIES=1 pytest tests/unit/test_workflow_replay.py -k regenerate

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
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from contracts.workflow_io import ChangeStatusRequest, ChangeStatusResult, OrderStatusView
from tests.fixtures.worker import FAST_RETRIES, order_input, order_message, unique_order_id
from workflows.order import OrderWorkflow
from workflows.runner import order_workflow_runner
from workflows.start import start_order_workflow

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
# Where this release's histories are recorded.
RELEASE_HISTORIES = HISTORIES / version("orderflow")
REGENERATE = os.environ.get("ORDERFLOW_REGENERATE_HISTORIES") == "1"

Handle = WorkflowHandle[object, OrderStatusView]


def _history_files() -> list[Path]:
    """Every release's histories (``<release>/<scenario>.json``)."""
    return sorted(HISTORIES.glob("*/*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"order-replay-{path.stem}", path.read_text())


@pytest.mark.parametrize("path", _history_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_committed_history_replays_without_nondeterminism(path: Path) -> None:
    history = _load(path)
    replayer = Replayer(
        workflows=[OrderWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=order_workflow_runner(),
    )

    result = await replayer.replay_workflow(history)

    assert result.replay_failure is None


def test_every_release_has_histories_of_the_main_paths() -> None:
    releases = {path.parent for path in _history_files()}
    assert releases
    for release in releases:
        assert {p.stem for p in release.glob("*.json")} >= {
            "open_to_returned",
            "delivered_return_window",
            "validation_failure",
        }, release.name


# --------------------------------------------------------------------------- regeneration

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
    handle = await start_order_workflow(client, order_input(unique_order_id("H")))
    await _wait_open(handle)
    await _change(handle, 2000, 3000, 3600, 3700, 7000, 8000, 8500)
    await handle.result()
    return handle


async def _delivered_return_window(client: Client) -> Handle:
    options = FAST_RETRIES.model_copy(update={"return_window": timedelta(seconds=1)})
    handle = await start_order_workflow(client, order_input(unique_order_id("H"), options=options))
    await _wait_open(handle)
    await _change(handle, 2000, 3000, 7000, 7500)
    await handle.result()
    return handle


async def _validation_failure(client: Client) -> Handle:
    order_id = unique_order_id("H")
    raw = order_message(order_id, ShipFromLocationID=None, OrderLines=[])
    handle = await start_order_workflow(client, order_input(order_id, raw))
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    return handle


async def _wait_open(handle: Handle) -> None:
    from tests.fixtures.worker import eventually

    async def is_open() -> None:
        view = await handle.query("status", result_type=OrderStatusView)
        assert view.status_code == 1000

    await eventually(is_open)


SCENARIOS: dict[str, Callable[[Client], Awaitable[Handle]]] = {
    "open_to_returned": _open_to_returned,
    "delivered_return_window": _delivered_return_window,
    "validation_failure": _validation_failure,
}


@pytest.mark.integration
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
