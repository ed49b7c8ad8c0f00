"""Temporal Cloud billable actions of one workflow run, counted from its event history.

Temporal Cloud's published definition (docs, "Temporal Cloud Actions"), as it applies to what
appears in a history:

* Workflow started (client start, continue-as-new, child start): 1 - the ``Started`` event.
* Activity started or retried: 1 per attempt - an ``ActivityTaskStarted`` event carries the
  attempt that completed, so it counts ``attempt``.
* Local activities: all markers recorded by one workflow task count as 1 action (Cloud counts
  the ``RecordMarker`` commands of a workflow task once), so: distinct workflow tasks with
  markers. (Workflow-task heartbeats of local activities longer than the task timeout would add
  one each; a heartbeat does not show as a separate event, so it is not counted here.)
* Search attribute upsert: 1 per ``UpsertWorkflowSearchAttributes`` command (attributes given
  at start are free).
* Timer started, signal received or sent to another workflow, update accepted, workflow options
  updated: 1 each; a child workflow start: 2.

Not visible in a history, so not counted: queries (each is an action on Cloud), rejected
updates, activity heartbeats, exports. Workflow *completion* and workflow tasks themselves are
free.
"""

from __future__ import annotations

from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

ONE_EACH = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow started",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search attribute upsert",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer started",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal received",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signal sent",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update accepted",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: "options updated",
}


def billable_actions(history: WorkflowHistory) -> Counter[str]:
    """Actions of one run by kind (see the module docstring); ``sum(...values())`` is the total."""
    actions: Counter[str] = Counter()
    tasks_with_markers: set[int] = set()
    for event in history.events:
        kind = event.event_type
        if kind in ONE_EACH:
            actions[ONE_EACH[kind]] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            actions["activity attempt"] += max(
                1, event.activity_task_started_event_attributes.attempt
            )
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            tasks_with_markers.add(
                event.marker_recorded_event_attributes.workflow_task_completed_event_id
            )
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            actions["child workflow"] += 2
    if tasks_with_markers:
        actions["local activities (per workflow task)"] = len(tasks_with_markers)
    return actions
