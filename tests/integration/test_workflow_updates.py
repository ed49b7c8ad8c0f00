"""OrderWorkflow's ``change_status`` update, search attributes and the return window, with fake
activities on the real dev server (the time-skipping server has no Updates)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contracts.errors import INVALID_STATUS_TRANSITION
from contracts.status import OrderStatus
from contracts.topics import ORDER_STATUS_V1
from contracts.workflow_io import ChangeStatusRequest, ChangeStatusResult, OrderStatusView
from tests.fixtures.worker import FAST_RETRIES, FakeOrderActivities, fake_worker, order_input
from tests.helpers.ids import unique_order_id
from tests.helpers.starts import start_order
from tests.helpers.waiting import eventually
from workflows import search_attributes as sa

pytestmark = pytest.mark.integration

Handle = WorkflowHandle[object, OrderStatusView]


@pytest_asyncio.fixture(loop_scope="session")
async def harness(
    temporal_dev_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[Client, FakeOrderActivities, str]]:
    # Workflow logs on: a log call that raises only when it really emits must fail here.
    caplog.set_level(logging.INFO, logger="temporalio.workflow")
    client = temporal_dev_env.client
    fakes = FakeOrderActivities()
    task_queue = f"updates-{uuid.uuid4().hex[:8]}"
    async with fake_worker(client, fakes, task_queue=task_queue):
        yield client, fakes, task_queue


async def _open_order(harness, **option_overrides) -> Handle:
    client, _, task_queue = harness
    order_id = unique_order_id("U")
    options = FAST_RETRIES.model_copy(update=option_overrides)
    handle = await start_order(
        client, order_input(order_id, options=options), task_queue=task_queue
    )

    async def is_open() -> None:
        view = await handle.query("status", result_type=OrderStatusView)
        assert view.status_code == OrderStatus.OPEN

    await eventually(is_open)
    return handle


async def _change(handle: Handle, to_status: int, **fields) -> ChangeStatusResult:
    result: ChangeStatusResult = await handle.execute_update(
        "change_status",
        ChangeStatusRequest(to_status=to_status, **fields),
        result_type=ChangeStatusResult,
    )
    return result


async def _update_events(handle: Handle) -> list[int]:
    wanted = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    }
    return [
        event.event_type
        async for event in handle.fetch_history_events()
        if event.event_type in wanted
    ]


async def test_accepted_change_is_persisted_published_and_searchable(harness) -> None:
    _, fakes, _ = harness
    handle = await _open_order(harness)
    description = await handle.describe()
    order_id = handle.id.removeprefix("order-")
    summary = f"Order {order_id} · location DC-01 · 2 lines · total 41.00"
    assert await description.static_summary() == summary
    assert description.typed_search_attributes.get(sa.ORDER_STATUS) == 1000
    assert description.typed_search_attributes.get(sa.SHIP_FROM_LOCATION_ID) == "DC-01"
    assert description.typed_search_attributes.get(sa.CORRELATION_ID) == f"corr-{order_id}"

    result = await _change(handle, 2000, reason="stock found", correlation_id="api-42")

    assert (result.from_status, result.to_status, result.status_name) == (1000, 2000, "Allocated")
    (change,) = [c for c in fakes.status_changes if c.order_id == order_id]
    assert (change.from_status, change.to_status, change.reason) == (1000, 2000, "stock found")
    assert change.correlation_id == "api-42"
    event = next(e for e in fakes.status_events if e.EventID == f"{order_id}:2000:2")
    assert (event.FromStatus, event.ToStatus, event.CorrelationID) == (1000, 2000, "api-42")
    view = await handle.query("status", result_type=OrderStatusView)
    assert (view.status_code, view.status_name) == (2000, "Allocated")
    description = await handle.describe()
    assert description.typed_search_attributes.get(sa.ORDER_STATUS) == 2000
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.current_details.startswith("Status 2000 Allocated since ")
    await handle.terminate("test done")


async def test_refused_change_never_reaches_history(harness) -> None:
    _, fakes, _ = harness
    handle = await _open_order(harness)
    before = len(fakes.status_changes)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _change(handle, OrderStatus.FULFILLED)

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == INVALID_STATUS_TRANSITION
    assert "not allowed" in cause.message
    assert len(fakes.status_changes) == before
    assert await _update_events(handle) == []
    await handle.terminate("test done")


async def test_terminal_status_completes_the_workflow(harness) -> None:
    handle = await _open_order(harness)

    await _change(handle, OrderStatus.CANCELED, reason="customer changed their mind")

    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert (result.status_code, result.status_name) == (9000, "Canceled")


async def test_return_window_after_delivery_completes_the_workflow(harness) -> None:
    handle = await _open_order(harness, return_window=timedelta(seconds=2))
    for status in (2000, 3000, 7000, 7500):
        await _change(handle, status)

    result = await asyncio.wait_for(handle.result(), timeout=60)

    assert result.status_code == OrderStatus.DELIVERED
    timers = [
        event
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_TIMER_FIRED
    ]
    assert len(timers) == 1


async def test_unpublishable_status_event_goes_to_the_status_dlq(harness) -> None:
    _, fakes, _ = harness
    handle = await _open_order(harness)
    order_id = handle.id.removeprefix("order-")
    fakes.fail_publish = 1000
    try:
        result = await _change(handle, 2000)
    finally:
        fakes.fail_publish = 0

    assert result.to_status == 2000  # the change stands: it is in the database
    letter = next(d for d in fakes.dead_letters if f'"{order_id}:2000:2"' in d.raw_message)
    assert (letter.stage, letter.original_topic, letter.key) == (
        "PUBLISH",
        ORDER_STATUS_V1,
        b"DC-01",
    )
    await handle.terminate("test done")


async def test_continue_as_new_carries_the_state(harness) -> None:
    _, fakes, _ = harness
    handle = await _open_order(harness, continue_as_new_after_events=20)
    first_run = (await handle.describe()).run_id
    order_id = handle.id.removeprefix("order-")
    for status in (2000, 1500, 2000, 3000):
        await _change(handle, status)

    async def continued() -> None:
        assert (await handle.describe()).run_id != first_run

    await eventually(continued)
    await _change(handle, 3500)
    view = await handle.query("status", result_type=OrderStatusView)
    assert view.status_code == 3500
    # The sequence continued across runs: the sixth status of the order.
    assert any(e.EventID == f"{order_id}:3500:6" for e in fakes.status_events)
    await handle.terminate("test done")
