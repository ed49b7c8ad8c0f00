"""The path to Open in one local activity: validate, persist, publish both events.

Each activity call costs a round trip through the worker's core (a command, an activity task, a
completion, a marker in history); the three steps of a new order used to be four such calls.
One call does the same work with the same guarantees:

* **Idempotent**: validation is pure; the write is ``INSERT … ON CONFLICT`` (a retry finds the
  order and reports ``created=False``); both events carry the workflow's deterministic
  ``EventID``s and time, so a retry publishes the same events again (consumers drop duplicates,
  as for any at-least-once publish).
* **Retries**: a failing step fails the call, which the workflow's retry budget repeats from the
  start — cheap, because the steps already done are no-ops the second time.
* **Stages**: a step's failure carries its DLQ stage (``PERSIST`` or ``PUBLISH``) in its details
  (:mod:`activities.steps`), so the workflow dead-letters with the right headers.
* An **invalid** order is only validated here: the workflow publishes its negative result and
  dead-letters it as before (those steps are rare and keep their own calls).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio import activity

from activities import names
from activities.log import activity_logger
from activities.models import OpenOrderInput, OpenOrderResult
from activities.persistence import PersistenceActivities
from activities.publishing import PublishingActivities
from activities.steps import in_stage
from activities.validation import validation_outcome
from contracts.dlq import DlqStage
from contracts.events import (
    OrderStatusChangedV1,
    OrderValidationV1,
    opened_status_event,
    validation_result_event,
)
from contracts.order_create_v1.validation import parse_order
from contracts.topics import ORDER_STATUS_V1, ORDER_VALIDATION_V1
from contracts.workflow_io import ValidationOutcome


def opening_events(
    request: OpenOrderInput, ship_from_location_id: str, outcome: ValidationOutcome
) -> tuple[OrderValidationV1, OrderStatusChangedV1]:
    """The two events a valid order's opening publishes: its validation result and Open."""
    validation = validation_result_event(
        outcome,
        event_id=request.validation_event_id,
        at=request.opened_at,
        correlation_id=request.correlation_id,
        message_id=request.message_id,
    )
    opened = opened_status_event(
        request.order_id, ship_from_location_id, request.opened_at, request.correlation_id
    )
    return validation, opened


class OpeningActivities:
    """Composes the persistence and publishing activities of the worker process."""

    def __init__(
        self, persistence: PersistenceActivities, publishing: PublishingActivities
    ) -> None:
        self._persistence = persistence
        self._publishing = publishing

    @activity.defn(name=names.OPEN_ORDER)
    async def open_order(self, request: OpenOrderInput) -> OpenOrderResult:
        """Validate; for a valid order persist it (status 1000, first history row) and publish
        ``order.validation.v1`` (``Valid=true``) and the ``order.status.v1`` Open event."""
        checked = parse_order(request.raw_message)
        outcome = validation_outcome(request.order_id, checked)
        if not outcome.valid or outcome.ship_from_location_id is None:
            return OpenOrderResult(outcome=outcome)
        stored = await in_stage(
            DlqStage.PERSIST,
            self._persistence.store_new_order(checked, request.order_id, request.correlation_id),
        )
        validation, opened = opening_events(request, outcome.ship_from_location_id, outcome)
        await in_stage(
            DlqStage.PUBLISH,
            asyncio.gather(
                self._publishing.send_event(ORDER_VALIDATION_V1, validation),
                self._publishing.send_event(ORDER_STATUS_V1, opened),
            ),
        )
        activity_logger(request.order_id, request.correlation_id).debug(
            "order opened", created=stored.created, status_code=stored.status_code
        )
        return OpenOrderResult(
            outcome=outcome,
            created=stored.created,
            status_code=stored.status_code,
            opened_at=datetime.now(UTC),
        )
