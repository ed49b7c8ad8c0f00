"""Temporal Cloud's billable actions counted from histories (``benchmarks/actions.py``): the
committed replay histories of each path, and the rules' edge cases on hand-made events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    HistoryEvent,
    UpsertWorkflowSearchAttributesEventAttributes,
    WorkflowExecutionStartedEventAttributes,
)
from temporalio.client import WorkflowHistory

from benchmarks.actions import billable_actions

HISTORIES = Path(__file__).resolve().parents[1] / "histories" / "0.2.0"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


def test_a_failed_validation_bills_the_start_and_one_task_of_markers() -> None:
    actions = billable_actions(_history("validation_failure").events)

    assert actions == {"workflow started": 1, "local activities (per workflow task)": 1}


def test_open_to_returned_bills_start_markers_and_upsert_then_three_per_status_change() -> None:
    history = _history("open_to_returned")

    actions = billable_actions(history.events)

    # Open: start + markers + upsert; 7 status changes: update + markers + upsert each.
    assert sum(actions.values()) == 3 + 7 * 3
    assert actions["update accepted"] == 7
    assert actions["search attribute upsert"] == 8


def test_a_slice_counts_what_that_part_of_the_run_added() -> None:
    events = list(_history("open_to_returned").events)
    first_update = next(
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )
    # The update's workflow task starts three events before its acceptance.
    one_change = events[first_update - 3 : first_update + 5]

    actions = billable_actions(one_change, task_timeout=timedelta(seconds=10))

    assert actions == {
        "update accepted": 1,
        "local activities (per workflow task)": 1,
        "search attribute upsert": 1,
    }


def _event(kind: EventType.ValueType, at: datetime, **attributes: object) -> HistoryEvent:
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return HistoryEvent(event_type=kind, event_time=stamp, **attributes)  # type: ignore[arg-type]


def _upsert(*names: str) -> HistoryEvent:
    fields = {name: Payload(data=b'"x"') for name in names}
    return _event(
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        T0,
        upsert_workflow_search_attributes_event_attributes=(
            UpsertWorkflowSearchAttributesEventAttributes(
                search_attributes=SearchAttributes(indexed_fields=fields)
            )
        ),
    )


def test_an_upsert_of_only_the_change_version_is_free() -> None:
    actions = billable_actions([_upsert("TemporalChangeVersion"), _upsert("OrderStatus")])

    assert actions == {"search attribute upsert": 1}


@pytest.mark.parametrize(("task_seconds", "heartbeats"), [(9.0, 1), (0.05, 0)])
def test_a_long_task_followed_at_once_by_another_is_a_heartbeat(
    task_seconds: float, heartbeats: int
) -> None:
    started = _event(
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        T0,
        workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
            workflow_task_timeout=Duration(seconds=10)
        ),
    )
    task_started = _event(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED, T0)
    done = T0 + timedelta(seconds=task_seconds)
    events = [
        started,
        _event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, T0),
        task_started,
        _event(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, done),
        _event(EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, done),
    ]

    actions = billable_actions(events)

    assert actions.get("workflow task heartbeat", 0) == heartbeats
    assert actions["workflow started"] == 1
