"""``OrderWorkflow``: one durable workflow per order (ID ``order-{OrderID}``), the order's single
writer from the moment the bridge starts it until the order can no longer change.

Lifecycle
---------
1. **Open** in one local activity (``open_order``, since release 0.2.0): validate the message
   (the contract's full validation), persist the order, its lines and the first history row
   (status 1000), and publish ``order.validation.v1`` (``Valid=true``) and the
   ``order.status.v1`` Open event (``EventID`` ``{OrderID}:1000:1``). Invalid: publish
   ``order.validation.v1`` with ``Valid=false`` and every issue, write the original message to
   ``order.create.v1.dlq`` (stage ``VALIDATE``), fail with ``ApplicationError`` of type
   ``OrderValidationFailed`` (non-retryable). Orders started before 0.2.0 (and
   ``options.open_in_one_step=False``) take the same steps as one activity call each.
2. **Open**: the workflow stays running as the order's durable record. The ``change_status``
   update moves it along the contract's transition table: refused transitions are rejected in
   the validator and never reach history; accepted ones are persisted (compare-and-set), then
   published (``EventID`` ``{OrderID}:{ToStatus}:{sequence}``), and the search attributes and
   current details follow. The workflow completes at a terminal status (8500, 9000) or when the
   return window after 7500 Delivered has passed (a durable timer). The ``status`` query
   returns code and name.

Guarantees
----------
* Every activity is idempotent (upsert, compare-and-set, deterministic ``EventID``s built here
  from workflow time), so at-least-once execution never creates a second row or a new event.
* Transient failures of the opening are retried with exponential backoff under the retry budget
  in ``input.options`` (the starter copies ``ORDERFLOW_WORKFLOW__*`` into it, because workflow
  code can't read settings; an order keeps the values it started with). When the budget is
  spent, or the database refuses the order, the original message goes to the DLQ (stage
  ``PERSIST``/``PUBLISH``, the step that failed) and the
  workflow fails (type ``RetryBudgetExhausted`` or the refusal's type) - Failed in the Web UI,
  and re-drivable because the ID reuse policy allows a new run after a failed one.
* If a status change is persisted but its event cannot be published within the budget, the
  change stands (the database is the read model) and the event goes to ``order.status.v1.dlq``.
* A bug in workflow code fails the order instead of retrying the workflow task forever: the
  ordinary bug exceptions are ``failure_exception_types``. Non-determinism deliberately is not
  (``NondeterminismError`` is not among them): after a bad deploy, running orders wait for the
  rollback instead of all failing at once.
* Continue-as-new when the server suggests it (or after ``continue_as_new_after_events``),
  only between updates; the state travels in ``input.resume``.

Design choices
--------------
Local activities (docs/decisions/0001), the path to Open as one of them (0010), and workers
without the sandbox, determinism being checked by replay and a lint in CI (0009).

Logging uses ``workflow.logger`` (silent while replaying), with ``order_id`` and
``correlation_id`` in ``extra``; the activities log through structlog with the same keys.
Metrics go through Temporal's workflow meter (:mod:`workflows.metrics`, also silent while
replaying): orders opened (once the order is Open, with its Kafka-record-to-persisted latency),
failed by error type, status changes by target status (the initial 1000 Open included: one per
``order.status.v1`` event) and the dead letters the workflow writes, by DLQ topic and stage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        OpenOrderInput,
        PersistOrderInput,
        StatusChangeInput,
        ValidateOrderInput,
    )
    from contracts.dlq import DlqStage
    from contracts.errors import (
        INVALID_STATUS_TRANSITION,
        NON_RETRYABLE_ERROR_TYPES,
        ORDER_NOT_FOUND,
        ORDER_VALIDATION_FAILED,
        RETRY_BUDGET_EXHAUSTED,
    )
    from contracts.events import (
        OrderStatusChangedV1,
        OrderValidationV1,
        event_key,
        opened_status_event,
        validation_result_event,
    )
    from contracts.ids import status_event_id, validation_event_id
    from contracts.status import INITIAL_STATUS, STATUS_NAMES, OrderStatus, transition_refusal
    from contracts.topics import ORDER_STATUS_V1
    from contracts.workflow_io import (
        CHANGE_STATUS_UPDATE,
        STATUS_QUERY,
        WORKFLOW_TYPE,
        ChangeStatusRequest,
        ChangeStatusResult,
        DeadLetter,
        OrderState,
        OrderStatusView,
        OrderWorkflowInput,
        ValidationOutcome,
    )

from workflows import search_attributes as sa
from workflows.activity_calls import ActivityCalls
from workflows.failures import ACTIVITY_FAILURES, ActivityFailure, describe
from workflows.metrics import OrderMetrics
from workflows.summary import status_details

# Exceptions that mean "bug in workflow code": they fail the order. NondeterminismError is a
# TemporalError, deliberately absent (see the module docstring).
WORKFLOW_BUG_TYPES: tuple[type[BaseException], ...] = (
    ArithmeticError,
    AssertionError,
    AttributeError,
    LookupError,
    NameError,
    RuntimeError,
    TypeError,
    ValueError,
)


@workflow.defn(name=WORKFLOW_TYPE, failure_exception_types=list(WORKFLOW_BUG_TYPES))
class OrderWorkflow:
    @workflow.init
    def __init__(self, order: OrderWorkflowInput) -> None:
        self._input = order
        self._calls = ActivityCalls(order.options)
        # None until the order is persisted as Open.
        self._state: OrderState | None = order.resume
        # Bumped by every applied status change; the main loop waits on it.
        self._changes = 0
        # Status changes run one at a time; the validator only sees the state before the lock.
        self._lock = asyncio.Lock()
        self._log_extra = {"order_id": order.order_id, "correlation_id": order.correlation_id}
        self._metrics = OrderMetrics()

    # ------------------------------------------------------------------ main path

    @workflow.run
    async def run(self, order: OrderWorkflowInput) -> OrderStatusView:
        try:
            if self._state is None:
                self._state = await self._open()
            else:
                self._show(self._state, search_attributes=False)
            return await self._stay_open()
        except ApplicationError as err:
            self._metrics.failed(err.type or type(err).__name__)
            raise
        except WORKFLOW_BUG_TYPES as err:
            self._metrics.failed(type(err).__name__)
            raise

    async def _open(self) -> OrderState:
        # Orders started before release 0.2.0 carry no such option: they replay their steps.
        if self._input.options.opens_in_one_step():
            return await self._open_in_one_step()
        return await self._open_in_steps()

    async def _open_in_one_step(self) -> OrderState:
        """Validate, persist and publish in one local activity (release 0.2.0 on)."""
        order = self._input
        now = workflow.now()
        event_id = validation_event_id(order.order_id, workflow.info().first_execution_run_id)
        try:
            opened = await self._calls.open_order(
                OpenOrderInput(
                    order_id=order.order_id,
                    raw_message=order.raw_message,
                    correlation_id=order.correlation_id,
                    message_id=order.message_id,
                    validation_event_id=event_id,
                    opened_at=now,
                )
            )
        except ACTIVITY_FAILURES as err:
            await self._fail(DlqStage(self._describe(err).stage or DlqStage.PERSIST.value), err)
        outcome = opened.outcome
        location = outcome.ship_from_location_id
        if not outcome.valid or location is None or opened.status_code is None:
            await self._reject(outcome, self._validation_event(outcome, event_id, now))
        state = self._show_opened(opened.status_code, location, outcome, now)
        self._count_opened(newly_stored=opened.created, at=opened.opened_at)
        return state

    def _show_opened(
        self, status: int, location: str, outcome: ValidationOutcome, now: datetime
    ) -> OrderState:
        """The state of a just-stored order, shown to operators (search attributes included)."""
        state = OrderState(
            status=status,
            sequence=1,
            ship_from_location_id=location,
            status_changed_at=now,
            line_count=outcome.line_count,
            order_total=outcome.order_total,
        )
        self._show(state, search_attributes=True)
        return state

    def _count_opened(self, *, newly_stored: bool, at: datetime | None) -> None:
        self._log(logging.INFO, "order open", newly_stored=newly_stored)
        self._metrics.opened(self._open_latency(at))
        self._metrics.status_changed(INITIAL_STATUS)

    def _validation_event(
        self, outcome: ValidationOutcome, event_id: str, at: datetime
    ) -> OrderValidationV1:
        order = self._input
        return validation_result_event(
            outcome,
            event_id=event_id,
            at=at,
            correlation_id=order.correlation_id,
            message_id=order.message_id,
        )

    async def _open_in_steps(self) -> OrderState:
        """The path to Open one activity call per step: the design before release 0.2.0 (kept
        so the orders those releases started replay) and ``options.open_in_one_step=False``."""
        order = self._input
        outcome = await self._calls.validate(
            ValidateOrderInput(
                order_id=order.order_id,
                raw_message=order.raw_message,
                correlation_id=order.correlation_id,
            )
        )
        now = workflow.now()
        validation_event = self._validation_event(
            outcome,
            validation_event_id(order.order_id, workflow.info().first_execution_run_id),
            now,
        )
        if not outcome.valid or outcome.ship_from_location_id is None:
            await self._reject(outcome, validation_event)
        location: str = outcome.ship_from_location_id
        try:
            persisted = await self._calls.persist_new_order(
                PersistOrderInput(
                    order_id=order.order_id,
                    raw_message=order.raw_message,
                    correlation_id=order.correlation_id,
                )
            )
        except ACTIVITY_FAILURES as err:
            await self._fail(DlqStage.PERSIST, err)
        state = self._show_opened(persisted.status_code, location, outcome, now)
        open_event = opened_status_event(order.order_id, location, now, order.correlation_id)
        try:
            await asyncio.gather(
                self._calls.publish_validation_result(validation_event),
                self._calls.publish_status_event(open_event),
            )
        except ACTIVITY_FAILURES as err:
            await self._fail(DlqStage.PUBLISH, err)
        self._count_opened(newly_stored=persisted.created, at=persisted.persisted_at)
        return state

    def _open_latency(self, persisted_at: datetime | None) -> timedelta | None:
        """Kafka record timestamp -> persisted (or, in one step, published): both wall clocks,
        read outside this code."""
        origin = self._input.origin
        if persisted_at is None or origin is None or origin.timestamp_ms is None:
            return None
        return persisted_at - datetime.fromtimestamp(origin.timestamp_ms / 1000, UTC)

    async def _reject(self, outcome: ValidationOutcome, event: OrderValidationV1) -> NoReturn:
        """Publish the negative result, dead-letter the message, fail the workflow."""
        problems = "; ".join(f"{issue.Code.value} at {issue.Field}" for issue in outcome.issues)
        try:
            await self._calls.publish_validation_result(event)
        except ACTIVITY_FAILURES as err:
            # The DLQ record below still carries the reason; don't lose it over the event.
            self._log(logging.ERROR, "validation result not published", error=str(err))
        await self._dead_letter(DlqStage.VALIDATE, ORDER_VALIDATION_FAILED, problems, attempts=1)
        self._log(logging.INFO, "order invalid", issues=len(outcome.issues))
        raise ApplicationError(
            f"order {self._input.order_id} failed validation: {problems}",
            [issue.model_dump(mode="json") for issue in outcome.issues],
            type=ORDER_VALIDATION_FAILED,
            non_retryable=True,
        )

    async def _fail(self, stage: DlqStage, err: FailureError) -> NoReturn:
        """Dead-letter the message after a spent retry budget or a refusal, then fail."""
        failure = self._describe(err)
        await self._dead_letter(stage, failure.error_type, failure.message, failure.attempts)
        error_type = RETRY_BUDGET_EXHAUSTED if failure.budget_exhausted else failure.error_type
        raise ApplicationError(
            f"{stage.value} failed after {failure.attempts} attempt(s): "
            f"{failure.error_type}: {failure.message}",
            type=error_type,
            non_retryable=True,
        ) from err

    def _describe(self, err: FailureError) -> ActivityFailure:
        return describe(
            err,
            max_attempts=self._input.options.activity_max_attempts,
            non_retryable_types=frozenset(NON_RETRYABLE_ERROR_TYPES),
        )

    async def _dead_letter(
        self,
        stage: DlqStage,
        error_type: str,
        message: str,
        attempts: int,
        *,
        raw_message: str | None = None,
        original_topic: str | None = None,
        key: bytes | None = None,
    ) -> None:
        order = self._input
        letter = DeadLetter(
            stage=stage.value,
            error_type=error_type,
            error_message=message,
            raw_message=order.raw_message if raw_message is None else raw_message,
            correlation_id=order.correlation_id,
            origin=order.origin if original_topic is None else None,
            attempts=attempts,
            failed_at=workflow.now(),
            original_topic=original_topic,
            key=key,
        )
        try:
            receipt = await self._calls.write_dead_letter(letter)
            self._metrics.dead_lettered(receipt.topic, stage.value)
        except ACTIVITY_FAILURES as err:
            # Only after a day of retries; the message is still in this workflow's input.
            self._log(logging.ERROR, "dead letter not written", error=str(err))

    def _log(self, level: int, message: str, **fields: object) -> None:
        """Log through ``workflow.logger`` (silent during replay) with the order's keys.

        Field names must not be ``LogRecord`` attributes (``created``, ``name``, ``msg`` …):
        logging raises on those, and while the workflow runs live (not when it replays) that
        would fail the order and then break the replay.
        """
        workflow.logger.log(level, message, extra={**self._log_extra, **fields})

    # ------------------------------------------------------------------ open order

    async def _stay_open(self) -> OrderStatusView:
        while True:
            state = self._require_state()
            if OrderStatus(state.status).is_terminal:
                await workflow.wait_condition(workflow.all_handlers_finished)
                self._log(logging.INFO, "order closed")
                return self.status()
            seen = self._changes
            woken = self._changed_since(seen)
            window_ends = self._return_window_ends(state)
            woke = True
            if window_ends is None:
                await workflow.wait_condition(woken)
            else:
                woke = await self._wait_until(window_ends, woken)
            if not woke:
                if workflow.all_handlers_finished() and self._changes == seen:
                    self._log(logging.INFO, "return window passed")
                    return self.status()
                # A status change is in flight: let it finish, then look again.
                await workflow.wait_condition(workflow.all_handlers_finished)
                continue
            if self._continue_as_new_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                # The raw message is only needed on the way to Open (it is stored in
                # PostgreSQL); dropping it keeps every following run's history small.
                workflow.continue_as_new(
                    self._input.model_copy(update={"resume": self._state, "raw_message": ""})
                )

    def _changed_since(self, seen: int) -> Callable[[], bool]:
        """Wake the main loop on a status change or when continue-as-new is due."""
        return lambda: self._changes != seen or self._continue_as_new_due()

    async def _wait_until(self, deadline: datetime, condition: Callable[[], bool]) -> bool:
        """Wait for ``condition`` or ``deadline`` (a durable timer); False when the time ran out."""
        remaining = deadline - workflow.now()
        if remaining <= timedelta(0):
            return bool(condition())
        try:
            await workflow.wait_condition(
                condition, timeout=remaining, timeout_summary="return window"
            )
        except TimeoutError:
            return False
        return True

    def _continue_as_new_due(self) -> bool:
        info = workflow.info()
        limit = self._input.options.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    def _return_window_ends(self, state: OrderState) -> datetime | None:
        if state.status != OrderStatus.DELIVERED:
            return None
        return state.status_changed_at + self._input.options.return_window

    def _require_state(self) -> OrderState:
        assert self._state is not None, "order is not open"
        return self._state

    def _show(self, state: OrderState, *, search_attributes: bool) -> None:
        """Keep the Web UI current: search attributes and the current details."""
        if search_attributes:
            workflow.upsert_search_attributes(
                [
                    sa.ORDER_STATUS.value_set(state.status),
                    sa.SHIP_FROM_LOCATION_ID.value_set(state.ship_from_location_id),
                    sa.CORRELATION_ID.value_set(self._input.correlation_id),
                ]
            )
        workflow.set_current_details(
            status_details(
                state.status,
                state.status_changed_at,
                return_window_ends=self._return_window_ends(state),
            )
        )

    # ------------------------------------------------------------------ update and query

    def _refusal(self, to_status: int) -> ApplicationError | None:
        state = self._state
        if state is None:
            return ApplicationError(
                f"order {self._input.order_id} is not open yet",
                type=ORDER_NOT_FOUND,
                non_retryable=True,
            )
        reason = transition_refusal(state.status, to_status)
        window_ends = self._return_window_ends(state)
        if reason is None and window_ends is not None and workflow.now() >= window_ends:
            reason = "the return window of this delivered order has passed"
        if reason is None:
            return None
        return ApplicationError(reason, type=INVALID_STATUS_TRANSITION, non_retryable=True)

    @workflow.update(name=CHANGE_STATUS_UPDATE)
    async def change_status(self, request: ChangeStatusRequest) -> ChangeStatusResult:
        """Persist, publish and show a status change; one at a time, in arrival order."""
        async with self._lock:
            # A change admitted concurrently may have moved the order since validation.
            refusal = self._refusal(request.to_status)
            if refusal is not None:
                raise refusal
            state = self._require_state()
            order_id = self._input.order_id
            correlation_id = request.correlation_id or self._input.correlation_id
            try:
                record = await self._calls.persist_status_change(
                    StatusChangeInput(
                        order_id=order_id,
                        from_status=state.status,
                        to_status=request.to_status,
                        source=request.source,
                        correlation_id=correlation_id,
                        reason=request.reason,
                    )
                )
            except ACTIVITY_FAILURES as err:
                failure = self._describe(err)
                raise ApplicationError(
                    f"status change not persisted: {failure.error_type}: {failure.message}",
                    type=RETRY_BUDGET_EXHAUSTED if failure.budget_exhausted else failure.error_type,
                    non_retryable=True,
                ) from err
            new_state = state.model_copy(
                update={
                    "status": request.to_status,
                    "sequence": state.sequence + 1,
                    "status_changed_at": workflow.now(),
                }
            )
            self._state = new_state
            self._changes += 1
            self._metrics.status_changed(request.to_status)
            self._show(new_state, search_attributes=True)
            event = OrderStatusChangedV1(
                EventID=status_event_id(order_id, request.to_status, new_state.sequence),
                OrderID=order_id,
                ShipFromLocationID=new_state.ship_from_location_id,
                FromStatus=state.status,
                ToStatus=request.to_status,
                StatusName=STATUS_NAMES[OrderStatus(request.to_status)],
                OccurredAt=record.changed_at,
                CorrelationID=correlation_id,
                Source=request.source,
                Reason=request.reason,
            )
            await self._publish_status_change(event)
            self._log(
                logging.INFO, "status changed", from_status=state.status, to_status=event.ToStatus
            )
            return ChangeStatusResult(
                order_id=order_id,
                from_status=state.status,
                to_status=request.to_status,
                status_name=event.StatusName,
                changed_at=record.changed_at,
            )

    async def _publish_status_change(self, event: OrderStatusChangedV1) -> None:
        """Publish; past the budget the event itself goes to ``order.status.v1.dlq``."""
        try:
            await self._calls.publish_status_event(event)
        except ACTIVITY_FAILURES as err:
            failure = self._describe(err)
            await self._dead_letter(
                DlqStage.PUBLISH,
                failure.error_type,
                failure.message,
                failure.attempts,
                raw_message=event.model_dump_json(),
                original_topic=ORDER_STATUS_V1,
                key=event_key(event.ShipFromLocationID, event.OrderID),
            )

    @change_status.validator
    def _validate_change_status(self, request: ChangeStatusRequest) -> None:
        refusal = self._refusal(request.to_status)
        if refusal is not None:
            raise refusal

    @workflow.query(name=STATUS_QUERY)
    def status(self) -> OrderStatusView:
        state = self._state
        if state is None:
            raise ApplicationError(
                f"order {self._input.order_id} is not open yet", type=ORDER_NOT_FOUND
            )
        return OrderStatusView(
            order_id=self._input.order_id,
            status_code=state.status,
            status_name=STATUS_NAMES[OrderStatus(state.status)],
        )
