"""The worker settings ``OrderWorkflow`` needs, as the options every starter puts in its input.

Workflow code cannot read settings (it must be deterministic and replayable), so whoever starts
an order copies them from ``ORDERFLOW_WORKER__*`` into ``OrderWorkflowInput.options``.
"""

from __future__ import annotations

from datetime import timedelta

from contracts.workflow_io import OrderWorkflowOptions
from orderflow.settings import WorkerSettings


def workflow_options(worker: WorkerSettings) -> OrderWorkflowOptions:
    """Retry budget and return window from the worker settings."""
    return OrderWorkflowOptions(
        activity_max_attempts=worker.activity_max_attempts,
        activity_initial_interval=timedelta(seconds=worker.activity_initial_interval_s),
        activity_max_interval=timedelta(seconds=worker.activity_max_interval_s),
        return_window=timedelta(days=worker.return_window_days),
    )
