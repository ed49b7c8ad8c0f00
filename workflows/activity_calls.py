"""How ``OrderWorkflow`` calls its activities: by name, local or regular, always with a
timeout and the retry budget the order was started with.

Business refusals (``contracts.errors.NON_RETRYABLE_ERROR_TYPES``) are never retried; any
other failure is retried with exponential backoff until ``activity_max_attempts``. Dead letters
get no attempt limit: the message must not be lost, so that write keeps trying (backoff capped
by the same interval) for up to a day.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities import names
    from activities.models import (
        OpenOrderInput,
        OpenOrderResult,
        PersistOrderInput,
        PersistOrderResult,
        PublishReceipt,
        StatusChangeInput,
        StatusChangeRecord,
        ValidateOrderInput,
    )
    from contracts.errors import NON_RETRYABLE_ERROR_TYPES
    from contracts.events import OrderStatusChangedV1, OrderValidationV1
    from contracts.workflow_io import DeadLetter, OrderWorkflowOptions, ValidationOutcome

ResultT = TypeVar("ResultT")

VALIDATE_TIMEOUT = timedelta(seconds=10)
PERSIST_TIMEOUT = timedelta(seconds=30)
# Longer than the producer's request timeout (30 s), so the broker's own error surfaces first.
PUBLISH_TIMEOUT = timedelta(seconds=45)
DEAD_LETTER_DEADLINE = timedelta(days=1)
# The path to Open in one call: a write and two publishes.
OPEN_TIMEOUT = PERSIST_TIMEOUT + PUBLISH_TIMEOUT


class ActivityCalls:
    """Typed calls of the order activities, configured from the workflow input's options."""

    def __init__(self, options: OrderWorkflowOptions) -> None:
        self._local = options.local_activities
        self._budget = RetryPolicy(
            initial_interval=options.activity_initial_interval,
            backoff_coefficient=2.0,
            maximum_interval=options.activity_max_interval,
            maximum_attempts=options.activity_max_attempts,
            non_retryable_error_types=list(NON_RETRYABLE_ERROR_TYPES),
        )
        self._unlimited = RetryPolicy(
            initial_interval=options.activity_initial_interval,
            backoff_coefficient=2.0,
            maximum_interval=options.activity_max_interval,
            maximum_attempts=0,
        )

    async def _call(
        self,
        name: str,
        arg: Any,
        result_type: type[ResultT],
        *,
        start_to_close: timedelta,
        retry_policy: RetryPolicy,
        schedule_to_close: timedelta | None = None,
    ) -> ResultT:
        execute = workflow.execute_local_activity if self._local else workflow.execute_activity
        result = await execute(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=start_to_close,
            schedule_to_close_timeout=schedule_to_close,
            retry_policy=retry_policy,
        )
        assert isinstance(result, result_type)
        return result

    async def open_order(self, request: OpenOrderInput) -> OpenOrderResult:
        return await self._call(
            names.OPEN_ORDER,
            request,
            OpenOrderResult,
            start_to_close=OPEN_TIMEOUT,
            retry_policy=self._budget,
        )

    async def validate(self, request: ValidateOrderInput) -> ValidationOutcome:
        return await self._call(
            names.VALIDATE_ORDER,
            request,
            ValidationOutcome,
            start_to_close=VALIDATE_TIMEOUT,
            retry_policy=self._budget,
        )

    async def persist_new_order(self, request: PersistOrderInput) -> PersistOrderResult:
        return await self._call(
            names.PERSIST_NEW_ORDER,
            request,
            PersistOrderResult,
            start_to_close=PERSIST_TIMEOUT,
            retry_policy=self._budget,
        )

    async def persist_status_change(self, request: StatusChangeInput) -> StatusChangeRecord:
        return await self._call(
            names.PERSIST_STATUS_CHANGE,
            request,
            StatusChangeRecord,
            start_to_close=PERSIST_TIMEOUT,
            retry_policy=self._budget,
        )

    async def publish_validation_result(self, event: OrderValidationV1) -> PublishReceipt:
        return await self._call(
            names.PUBLISH_VALIDATION_RESULT,
            event,
            PublishReceipt,
            start_to_close=PUBLISH_TIMEOUT,
            retry_policy=self._budget,
        )

    async def publish_status_event(self, event: OrderStatusChangedV1) -> PublishReceipt:
        return await self._call(
            names.PUBLISH_STATUS_EVENT,
            event,
            PublishReceipt,
            start_to_close=PUBLISH_TIMEOUT,
            retry_policy=self._budget,
        )

    async def write_dead_letter(self, letter: DeadLetter) -> PublishReceipt:
        return await self._call(
            names.WRITE_DEAD_LETTER,
            letter,
            PublishReceipt,
            start_to_close=PUBLISH_TIMEOUT,
            schedule_to_close=DEAD_LETTER_DEADLINE,
            retry_policy=self._unlimited,
        )
