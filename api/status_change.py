"""A status change through the order's workflow (its ``change_status`` update).

The workflow is the order's single writer: the API never updates the database itself. How
each outcome is answered:

* applied: the workflow's :class:`ChangeStatusResult`;
* refused by the update's validator (type ``InvalidStatusTransition``): 409 with the reason;
* no such workflow, or the order is not Open yet (type ``OrderNotFound``): 404;
* the workflow has completed (terminal status, or the return window passed): 409 when the
  order is stored, else 404 (a failed, never-stored order);
* Temporal unreachable: 503; no result within the deadline: 504 (it may still be applied).
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from fastapi import HTTPException, status
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from contracts.errors import INVALID_STATUS_TRANSITION, ORDER_NOT_FOUND, RETRY_BUDGET_EXHAUSTED
from contracts.ids import workflow_id
from contracts.status import transition_refusal
from contracts.workflow_io import CHANGE_STATUS_UPDATE, ChangeStatusRequest, ChangeStatusResult
from db.repository import get_order

API_SOURCE = "api"

log = structlog.get_logger("orderflow.api.status")


def _not_found(order_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"order {order_id} not found")


async def change_status(
    client: Client,
    session_factory: async_sessionmaker[AsyncSession],
    order_id: str,
    *,
    to_status: int,
    reason: str | None,
    correlation_id: str,
    timeout_s: float,
) -> ChangeStatusResult:
    """Send the update and wait for its result; failures are raised as HTTP errors."""
    handle = client.get_workflow_handle(workflow_id(order_id))
    request = ChangeStatusRequest(
        to_status=to_status, reason=reason, source=API_SOURCE, correlation_id=correlation_id
    )
    try:
        result: ChangeStatusResult = await handle.execute_update(
            CHANGE_STATUS_UPDATE,
            request,
            result_type=ChangeStatusResult,
            rpc_timeout=timedelta(seconds=timeout_s),
        )
    except WorkflowUpdateFailedError as exc:
        raise update_failure(order_id, exc) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise HTTPException(
            status.HTTP_504_GATEWAY_TIMEOUT,
            f"the status change did not finish within {timeout_s:g}s; it may still be applied",
        ) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise await _closed_workflow(session_factory, order_id, to_status) from exc
        log.warning("status change: Temporal error", order_id=order_id, error=repr(exc))
        raise _unavailable() from exc
    except RuntimeError as exc:  # the client could not connect
        log.warning("status change: Temporal unreachable", order_id=order_id, error=repr(exc))
        raise _unavailable() from exc
    return result


def _unavailable() -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Temporal is unavailable")


def update_failure(order_id: str, exc: WorkflowUpdateFailedError) -> HTTPException:
    """The HTTP answer to an update the workflow refused or failed, by its error type."""
    cause = exc.cause
    kind = cause.type if isinstance(cause, ApplicationError) else None
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    if kind == INVALID_STATUS_TRANSITION:
        return HTTPException(status.HTTP_409_CONFLICT, message)
    if kind == ORDER_NOT_FOUND:
        return _not_found(order_id)
    log.error("status change failed in the workflow", order_id=order_id, type=kind, error=message)
    if kind == RETRY_BUDGET_EXHAUSTED:
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, message)
    return HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, message)


async def _closed_workflow(
    session_factory: async_sessionmaker[AsyncSession], order_id: str, to_status: int
) -> HTTPException:
    """Temporal knows no running workflow: tell a finished order from an unknown one."""
    async with session_factory() as session:
        order = await get_order(session, order_id)
    if order is None:
        return _not_found(order_id)
    reason = transition_refusal(order.status_code, to_status) or (
        f"order {order_id} can no longer change (status {order.status_code} "
        f"{order.status_name}, its workflow has completed)"
    )
    return HTTPException(status.HTTP_409_CONFLICT, reason)
