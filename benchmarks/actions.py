"""Temporal Cloud billable actions of one workflow run, counted from its event history.

Temporal Cloud's published definition (docs.temporal.io/cloud/actions, read 2026-12-05), as it
applies to what appears in a history:

* Workflow started (client start, continue-as-new, child start): 1 - the ``Started`` event.
* Activity started or retried: 1 per attempt - an ``ActivityTaskStarted`` event carries the
  attempt that completed, so it counts ``attempt``.
* Local activities: all markers recorded by one workflow task count as 1 action (Cloud counts
  the ``RecordMarker`` commands of a workflow task once), so: distinct workflow tasks with
  markers. A local activity's retries after a workflow-task heartbeat are billed as reported in
  ``WorkflowTaskCompleted.metering_metadata.nonfirst_local_activity_execution_attempts``.
* Workflow-task heartbeat (a local activity running past 80 % of the workflow-task timeout):
  1 each. A heartbeat has no event of its own; it shows as a workflow task that lasted most of
  its timeout, completed with no command and was followed at once by the next
  ``WorkflowTaskScheduled`` (the SDK forces a new task) - counted that way, an estimate.
* Search attribute upsert: 1 per ``UpsertWorkflowSearchAttributes`` command (attributes given
  at start are free; an upsert of only ``TemporalChangeVersion`` is exempt).
* Timer started, signal received or sent to another workflow, update accepted, workflow options
  updated: 1 each; a child workflow start: 2.

Not visible in a history, so not counted: queries (each is an action on Cloud), rejected
updates, activity heartbeats, exports. Workflow *completion* and workflow tasks themselves are
free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

ONE_EACH = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow started",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer started",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal received",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signal sent",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update accepted",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: "options updated",
}
# The kind of action each counted event type stands for (for reports: which event billed what).
SOURCE_EVENTS = {
    **{kind: EventType.Name(event) for event, kind in ONE_EACH.items()},
    "search attribute upsert": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
    "activity attempt": "EVENT_TYPE_ACTIVITY_TASK_STARTED (its attempt)",
    "local activities (per workflow task)": "EVENT_TYPE_MARKER_RECORDED (per workflow task)",
    "local activity retry": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED (metering_metadata)",
    "workflow task heartbeat": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED (long, no command), "
    "then EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
    "child workflow": "EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED",
}
# The SDK heartbeats a workflow task at 80 % of its timeout; a task that lasted this share of it
# and was followed at once by another is taken for a heartbeat.
HEARTBEAT_SHARE = 0.7
DEFAULT_TASK_TIMEOUT = timedelta(seconds=10)
# Used by workflow.patched(); exempt from the upsert's action.
CHANGE_VERSION_ATTRIBUTE = "TemporalChangeVersion"


def _billed_upsert(event: HistoryEvent) -> bool:
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    return set(fields.indexed_fields) != {CHANGE_VERSION_ATTRIBUTE}


def _heartbeats(events: Sequence[HistoryEvent], timeout: timedelta) -> int:
    """Workflow tasks that ran for most of the task timeout, completed with no command and were
    followed at once by a new one: the SDK's heartbeat while a local activity runs on."""
    count, started_at = 0, None
    for i, event in enumerate(events):
        following = events[i + 1] if i + 1 < len(events) else None
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started_at = event.event_time.ToDatetime()
        elif (
            event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            and following is not None
            and following.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
            and started_at is not None
            and event.event_time.ToDatetime() - started_at >= HEARTBEAT_SHARE * timeout
        ):
            count += 1
    return count


def run_task_timeout(events: Sequence[HistoryEvent]) -> timedelta:
    for event in events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            timeout = event.workflow_execution_started_event_attributes.workflow_task_timeout
            if timeout.ToTimedelta() > timedelta(0):
                return timeout.ToTimedelta()
    return DEFAULT_TASK_TIMEOUT


def billable_actions(
    events: Sequence[HistoryEvent], *, task_timeout: timedelta | None = None
) -> Counter[str]:
    """Actions of these events of one run, by kind (see the module docstring);
    ``sum(...values())`` is the total. Pass a slice to count what a part of the run added
    (with the run's ``task_timeout`` when the slice lacks its ``Started`` event)."""
    actions: Counter[str] = Counter()
    tasks_with_markers: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind in ONE_EACH:
            actions[ONE_EACH[kind]] += 1
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            if _billed_upsert(event):
                actions["search attribute upsert"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            actions["activity attempt"] += max(
                1, event.activity_task_started_event_attributes.attempt
            )
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            tasks_with_markers.add(
                event.marker_recorded_event_attributes.workflow_task_completed_event_id
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            metering = event.workflow_task_completed_event_attributes.metering_metadata
            if metering.nonfirst_local_activity_execution_attempts:
                actions["local activity retry"] += (
                    metering.nonfirst_local_activity_execution_attempts
                )
        elif kind == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            actions["child workflow"] += 2
    if tasks_with_markers:
        actions["local activities (per workflow task)"] = len(tasks_with_markers)
    heartbeats = _heartbeats(events, task_timeout or run_task_timeout(events))
    if heartbeats:
        actions["workflow task heartbeat"] = heartbeats
    return actions


def event_type_names(events: Sequence[HistoryEvent]) -> list[str]:
    """The events' types without the ``EVENT_TYPE_`` prefix, in order (for reports)."""
    return [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in events]


def history_bytes(events: Sequence[HistoryEvent]) -> int:
    """Serialized size of these events (payloads as stored: encrypted by the codec) - the
    basis of Temporal Cloud's storage, which meters what it persists (an estimate)."""
    return sum(event.ByteSize() for event in events)
