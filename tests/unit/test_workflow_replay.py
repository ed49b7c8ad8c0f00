"""Replays the committed histories in ``tests/histories/`` against today's ``OrderWorkflow``.

A failure here means a code change is not deterministic for orders that are already running:
guard it with ``workflow.patched(...)`` or keep the old behaviour. After an intended,
compatible change of the main paths, regenerate the histories from a real run (dev server,
PostgreSQL, broker and the real worker; see ``tests/integration/test_workflow_histories.py``)::

    ORDERFLOW_REGENERATE_HISTORIES=1 pytest tests/integration/test_workflow_histories.py

The files are plain Temporal history JSON (as ``temporal workflow show --output json`` writes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.order import OrderWorkflow
from workflows.runner import order_workflow_runner

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


def _history_files() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"order-replay-{path.stem}", path.read_text())


@pytest.mark.parametrize("path", _history_files(), ids=lambda p: p.stem)
async def test_committed_history_replays_without_nondeterminism(path: Path) -> None:
    history = _load(path)
    replayer = Replayer(
        workflows=[OrderWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=order_workflow_runner(),
    )

    result = await replayer.replay_workflow(history)

    assert result.replay_failure is None


def test_the_main_paths_have_histories() -> None:
    assert {p.stem for p in _history_files()} >= {
        "open_to_returned",
        "delivered_return_window",
        "validation_failure",
    }
