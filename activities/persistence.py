"""Persistence activities: write orders and status changes through the repository.

Idempotent by construction, because activities run at least once: a new order is an
``INSERT … ON CONFLICT`` (a second run finds the row and reports ``created=False``), and a
status change is a compare-and-set that reports ``applied=False`` when an earlier attempt had
already made it. Each call is one transaction. Business refusals become non-retryable
``ApplicationError``s with the contract's error types; anything else (database down, pool
exhausted) propagates and is retried by Temporal under the workflow's retry budget.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import names
from activities.log import activity_logger
from activities.models import (
    PersistOrderInput,
    PersistOrderResult,
    StatusChangeInput,
    StatusChangeRecord,
)
from contracts.errors import (
    INVALID_STATUS_TRANSITION,
    ORDER_CONFLICT,
    ORDER_NOT_FOUND,
    ORDER_VALIDATION_FAILED,
)
from contracts.order_create_v1.validation import OrderValidation, parse_order
from db.repository import (
    InvalidTransitionError,
    NewOrder,
    OrderConflictError,
    OrderNotFoundError,
    change_status,
    upsert_order,
)


def _business_error(message: str, error_type: str) -> ApplicationError:
    # The attempt travels in the details so the DLQ header ``dlq.attempts`` can be exact.
    return ApplicationError(
        message, {"attempt": activity.info().attempt}, type=error_type, non_retryable=True
    )


class PersistenceActivities:
    """Writes to PostgreSQL through one session factory (one engine per worker process)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn(name=names.PERSIST_NEW_ORDER)
    async def persist_new_order(self, request: PersistOrderInput) -> PersistOrderResult:
        """Insert the order, its lines and the first history row (status 1000), once.

        The raw message is parsed once (:func:`~contracts.order_create_v1.validation.parse_order`)
        into the validated order and the JSON object stored beside it.
        """
        checked = parse_order(request.raw_message)
        return await self.store_new_order(checked, request.order_id, request.correlation_id)

    async def store_new_order(
        self, checked: OrderValidation, order_id: str, correlation_id: str
    ) -> PersistOrderResult:
        """The write itself, for an order already parsed and validated (also used by
        :class:`activities.opening.OpeningActivities`)."""
        log = activity_logger(order_id, correlation_id)
        if checked.order is None or checked.payload is None:
            # Validation passed moments ago; only a contract change in between gets here.
            raise _business_error("order no longer passes validation", ORDER_VALIDATION_FAILED)
        new_order = NewOrder(
            order=checked.order, correlation_id=correlation_id, raw_message=checked.payload
        )
        try:
            async with self._sessions.begin() as session:
                result = await upsert_order(session, new_order)
        except OrderConflictError as exc:
            log.warning("order conflicts with a stored order", error=str(exc))
            raise _business_error(str(exc), ORDER_CONFLICT) from exc
        log.debug("order persisted", created=result.created, status_code=result.status_code)
        return PersistOrderResult(
            created=result.created, status_code=result.status_code, persisted_at=datetime.now(UTC)
        )

    @activity.defn(name=names.PERSIST_STATUS_CHANGE)
    async def persist_status_change(self, request: StatusChangeInput) -> StatusChangeRecord:
        """Move the order from ``from_status`` to ``to_status`` and record it in the history."""
        log = activity_logger(request.order_id, request.correlation_id)
        try:
            async with self._sessions.begin() as session:
                change = await change_status(
                    session,
                    request.order_id,
                    from_status=request.from_status,
                    to_status=request.to_status,
                    source=request.source,
                    correlation_id=request.correlation_id,
                    reason=request.reason,
                )
        except InvalidTransitionError as exc:
            log.warning("status change refused by the database", error=str(exc))
            raise _business_error(str(exc), INVALID_STATUS_TRANSITION) from exc
        except OrderNotFoundError as exc:
            raise _business_error(str(exc), ORDER_NOT_FOUND) from exc
        log.debug(
            "status change persisted",
            from_status=request.from_status,
            to_status=request.to_status,
            applied=change.applied,
        )
        return StatusChangeRecord(changed_at=change.changed_at, applied=change.applied)
