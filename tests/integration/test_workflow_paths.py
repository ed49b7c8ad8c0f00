"""OrderWorkflow's paths to Open and to failure, on the time-skipping test server with fake
activities registered under the real names (the validation activity is the real, pure one)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contracts.dlq import DlqStage
from contracts.errors import (
    ORDER_CONFLICT,
    ORDER_VALIDATION_FAILED,
    RETRY_BUDGET_EXHAUSTED,
    ErrorCode,
)
from contracts.status import OrderStatus
from contracts.workflow_io import OrderState, OrderStatusView
from tests.fixtures.worker import (
    FAST_RETRIES,
    FakeOrderActivities,
    fake_worker,
    order_input,
    order_message,
)
from tests.helpers.ids import unique_order_id
from tests.helpers.starts import start_order
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def harness(
    time_skipping_client: Client, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[tuple[Client, FakeOrderActivities, str]]:
    """A worker with fresh fakes on its own task queue; yields (client, fakes, task queue).

    Workflow logs are enabled at INFO: a log call that raises only when it really emits must
    show up here, not in production.
    """
    caplog.set_level(logging.INFO, logger="temporalio.workflow")
    client = time_skipping_client
    fakes = FakeOrderActivities()
    task_queue = f"paths-{uuid.uuid4().hex[:8]}"
    async with fake_worker(client, fakes, task_queue=task_queue):
        yield client, fakes, task_queue


async def _open_status(handle: WorkflowHandle[object, OrderStatusView]) -> OrderStatusView:
    view: OrderStatusView = await handle.query("status", result_type=OrderStatusView)
    assert view.status_code == OrderStatus.OPEN
    return view


async def _failure(handle: WorkflowHandle[object, OrderStatusView]) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as failed:
        await asyncio.wait_for(handle.result(), timeout=60)
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_valid_order_becomes_open_and_publishes_both_events(
    harness, caplog: pytest.LogCaptureFixture
) -> None:
    client, fakes, task_queue = harness
    order_id = unique_order_id()
    handle = await start_order(client, order_input(order_id), task_queue=task_queue)

    view = await eventually(lambda: _open_status(handle))

    assert view.status_name == "Open"
    assert [p.order_id for p in fakes.persisted] == [order_id]
    (validation,) = fakes.validation_events
    assert validation.Valid is True
    assert validation.Errors == []
    # One ID per workflow run: retries repeat it, a re-driven order's new run gets a new one.
    assert validation.EventID == f"{order_id}:validation:{handle.first_execution_run_id}"
    assert validation.CorrelationID == f"corr-{order_id}"
    (opened,) = fakes.status_events
    assert opened.EventID == f"{order_id}:1000:1"
    assert (opened.FromStatus, opened.ToStatus, opened.StatusName) == (None, 1000, "Open")
    assert opened.ShipFromLocationID == "DC-01"
    assert opened.CorrelationID == f"corr-{order_id}"
    assert fakes.dead_letters == []
    assert any(
        record.getMessage().startswith("order open")
        and getattr(record, "order_id", None) == order_id
        for record in caplog.records
    )
    await handle.terminate("test done")


async def test_invalid_order_publishes_every_error_dead_letters_and_fails(harness) -> None:
    client, fakes, task_queue = harness
    order_id = unique_order_id()
    raw = order_message(order_id, ShipFromLocationID=None, OrderLines=[])
    handle = await start_order(client, order_input(order_id, raw, offset=42), task_queue=task_queue)

    cause = await _failure(handle)

    assert cause.type == ORDER_VALIDATION_FAILED
    assert cause.non_retryable
    codes = {issue["Code"] for issue in cause.details[0]}
    assert {ErrorCode.MISSING_SHIP_FROM_LOCATION.value, ErrorCode.NO_ORDER_LINES.value} <= codes
    (validation,) = fakes.validation_events
    assert validation.Valid is False
    assert {issue.Code.value for issue in validation.Errors} == codes
    assert validation.ShipFromLocationID is None
    (letter,) = fakes.dead_letters
    assert letter.stage == DlqStage.VALIDATE
    assert letter.error_type == ORDER_VALIDATION_FAILED
    assert letter.raw_message == raw
    assert letter.origin is not None
    assert letter.origin.offset == 42
    assert letter.correlation_id == f"corr-{order_id}"
    assert fakes.persisted == []
    assert fakes.status_events == []


async def test_transient_failures_are_retried_until_the_order_is_open(harness) -> None:
    """The retry budget (3 attempts here) covers the whole opening step: attempt 1 fails to
    persist, attempt 2 persists and fails to publish, attempt 3 finds the order stored (the
    write is idempotent) and publishes both events."""
    client, fakes, task_queue = harness
    fakes.fail_persist = 1
    fakes.fail_publish = 1
    order_id = unique_order_id()
    handle = await start_order(client, order_input(order_id), task_queue=task_queue)

    await eventually(lambda: _open_status(handle))

    assert fakes.persist_attempts == 3
    assert len(fakes.status_events) == 1
    assert len(fakes.validation_events) == 1
    assert fakes.dead_letters == []
    await handle.terminate("test done")


@pytest.mark.parametrize(
    ("failing", "stage", "error_type"),
    [
        ("fail_persist", DlqStage.PERSIST, "ConnectionRefusedError"),
        ("fail_publish", DlqStage.PUBLISH, "ConnectionError"),
    ],
)
async def test_spent_retry_budget_dead_letters_and_fails(
    harness, failing: str, stage: DlqStage, error_type: str
) -> None:
    client, fakes, task_queue = harness
    setattr(fakes, failing, 1000)
    order_id = unique_order_id()
    raw = order_message(order_id)
    handle = await start_order(client, order_input(order_id, raw), task_queue=task_queue)

    cause = await _failure(handle)

    assert cause.type == RETRY_BUDGET_EXHAUSTED
    (letter,) = fakes.dead_letters
    assert letter.stage == stage
    assert letter.error_type == error_type
    assert letter.attempts == FAST_RETRIES.activity_max_attempts
    assert letter.raw_message == raw
    assert letter.failed_at is not None


async def test_business_refusal_is_not_retried(harness) -> None:
    client, fakes, task_queue = harness
    fakes.refuse_persist = ORDER_CONFLICT
    order_id = unique_order_id()
    handle = await start_order(client, order_input(order_id), task_queue=task_queue)

    cause = await _failure(handle)

    assert cause.type == ORDER_CONFLICT
    assert fakes.persist_attempts == 1
    (letter,) = fakes.dead_letters
    assert (letter.stage, letter.error_type, letter.attempts) == ("PERSIST", ORDER_CONFLICT, 1)


async def test_bug_in_workflow_code_fails_the_order_instead_of_wedging_it(harness) -> None:
    client, fakes, task_queue = harness
    # An unknown status code from the database makes OrderStatus(...) raise in workflow code.
    fakes.stored_status = 1234
    order_id = unique_order_id()
    handle = await start_order(client, order_input(order_id), task_queue=task_queue)

    cause = await _failure(handle)

    assert cause.type == "ValueError"


async def test_delivered_order_completes_when_the_return_window_passes(
    harness, temporal_time_skipping_env: WorkflowEnvironment
) -> None:
    client, fakes, task_queue = harness
    order_id = unique_order_id()
    delivered_at = await temporal_time_skipping_env.get_current_time()
    resumed = order_input(order_id).model_copy(
        update={
            "options": FAST_RETRIES.model_copy(update={"return_window": timedelta(days=30)}),
            "resume": OrderState(
                status=OrderStatus.DELIVERED,
                sequence=10,
                ship_from_location_id="DC-01",
                status_changed_at=delivered_at,
            ),
        }
    )
    handle = await start_order(client, resumed, task_queue=task_queue)

    result = await asyncio.wait_for(handle.result(), timeout=60)

    assert (result.status_code, result.status_name) == (7500, "Delivered")
    assert await temporal_time_skipping_env.get_current_time() >= delivered_at + timedelta(days=30)
    assert fakes.persisted == []  # a resumed order is not validated or stored again


async def test_resumed_terminal_order_completes_at_once(harness) -> None:
    client, _, task_queue = harness
    order_id = unique_order_id()
    resumed = order_input(order_id).model_copy(
        update={
            "resume": OrderState(
                status=OrderStatus.CANCELED,
                sequence=2,
                ship_from_location_id="DC-01",
                status_changed_at=datetime.now(UTC),
            )
        }
    )
    handle = await start_order(client, resumed, task_queue=task_queue)

    result = await asyncio.wait_for(handle.result(), timeout=60)

    assert result.status_code == OrderStatus.CANCELED
