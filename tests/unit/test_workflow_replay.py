"""Replays the committed histories of every released version against today's ``OrderWorkflow``.

``tests/histories/<release>/`` holds histories recorded with the workflow code of that release
(the package version). Orders live for weeks and the worker fleet auto-upgrades running
workflows, so today's code must replay every release's histories whose orders may still run. A
failure here means a code change is not deterministic for orders that are already running:
guard it with ``workflow.patched(...)`` or keep the old behaviour
(``docs/operations/workflow-changes.md``). When releasing a workflow change, record the new
release's histories from a real run (dev server, PostgreSQL, broker and the real worker; see
``tests/integration/test_workflow_histories.py``), keeping the older releases' folders::

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
    """Every release's histories (``<release>/<scenario>.json``)."""
    return sorted(HISTORIES.glob("*/*.json"))


def _load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"order-replay-{path.stem}", path.read_text())


# The production runner (no sandbox), and the SDK's default sandbox: workers run without it
# for their CPU's sake, so replaying every recorded path inside it here is what catches a
# non-deterministic call (a clock, randomness, I/O) on those paths.
RUNNERS = ("off", "default")


@pytest.mark.parametrize("sandbox", RUNNERS)
@pytest.mark.parametrize("path", _history_files(), ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_committed_history_replays_without_nondeterminism(path: Path, sandbox: str) -> None:
    history = _load(path)
    replayer = Replayer(
        workflows=[OrderWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=order_workflow_runner(sandbox),
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
