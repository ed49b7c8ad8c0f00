"""The workflow settings every starter copies into an order's input.

Workflow code cannot read settings (it must be deterministic and replayable), so whoever starts
an order (the bridge) copies ``ORDERFLOW_WORKFLOW__*`` into ``OrderWorkflowInput.options``.
"""

from __future__ import annotations

from datetime import timedelta

from config.settings import WorkflowSettings
from contracts.workflow_io import OrderWorkflowOptions


def workflow_options(workflow: WorkflowSettings) -> OrderWorkflowOptions:
    """Retry budget, return window, activity kind and history length from the settings."""
    return OrderWorkflowOptions(
        activity_max_attempts=workflow.activity_max_attempts,
        activity_initial_interval=timedelta(seconds=workflow.activity_initial_interval_s),
        activity_max_interval=timedelta(seconds=workflow.activity_max_interval_s),
        return_window=timedelta(days=workflow.return_window_days),
        local_activities=workflow.local_activities,
        open_in_one_step=workflow.open_in_one_step,
        continue_as_new_after_events=workflow.continue_as_new_after_events,
    )
