"""Starting ``OrderWorkflow`` for a record, and what each Temporal failure means for the record.

:func:`start_order_workflow` is the one helper every starter uses (the bridge, tools, tests).
It needs only ``temporalio.client`` and the contracts, and takes what the handler already read
from the message (:class:`~bridges.handler.StartOrder`): the value is never parsed again here.

* Started, or ``WorkflowAlreadyStartedError`` (the order's workflow is running or completed):
  the record is done. The conflict policy FAIL and the reuse policy
  ALLOW_DUPLICATE_FAILED_ONLY make the duplicate case exact: an order never gets a second
  workflow while one runs or after one completed, while a failed order may start again (that is
  how a corrected order is re-driven).
* Temporal unreachable, overloaded (``RESOURCE_EXHAUSTED``), timing out, or refusing us for a
  reason that is not the record's fault (auth, unknown namespace): :func:`is_transient` — the
  record stays uncommitted and is retried after a back-off, never dropped.
* Temporal refusing the request itself as invalid (``INVALID_ARGUMENT``,
  ``FAILED_PRECONDITION``, ``OUT_OF_RANGE``): :class:`StartRejectedError` — the record goes to the
  DLQ (stage ``SCHEMA``) so it cannot stall its partition, and can be re-driven.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from bridges.handler import StartOrder
from contracts.workflow_io import TASK_QUEUE, WORKFLOW_TYPE, OrderStatusView
from workflows import search_attributes as sa
from workflows.summary import order_summary

_REJECTING = {
    RPCStatusCode.INVALID_ARGUMENT,
    RPCStatusCode.FAILED_PRECONDITION,
    RPCStatusCode.OUT_OF_RANGE,
}
START_RPC_TIMEOUT = timedelta(seconds=10)


class StartOutcome(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"


class StartRejectedError(Exception):
    """Temporal refused this start as invalid; the record belongs in the DLQ."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


# (client, request) -> None; raises WorkflowAlreadyStartedError for a duplicate.
StartFunction = Callable[[Client, StartOrder], Awaitable[object]]


def is_transient(error: BaseException) -> bool:
    """True when the failure is about Temporal's availability, not about the record."""
    if isinstance(error, RPCError):
        return error.status not in _REJECTING
    if isinstance(error, RuntimeError) and str(error).startswith("Failed client connect"):
        return True  # a lazy client could not reach the server (yet)
    return isinstance(error, (TimeoutError, ConnectionError))


async def start_order(client: Client, request: StartOrder, start: StartFunction) -> StartOutcome:
    """Start the order's workflow once; translate Temporal's answer into an outcome.

    Raises :class:`StartRejectedError` for a request Temporal refuses, and lets transient errors
    (:func:`is_transient`) propagate for the caller's back-off.
    """
    try:
        await start(client, request)
    except WorkflowAlreadyStartedError:
        return StartOutcome.DUPLICATE
    except RPCError as error:
        if error.status in _REJECTING:
            raise StartRejectedError(error.status.name, error.message) from error
        raise
    return StartOutcome.STARTED


async def start_order_workflow(
    client: Client,
    request: StartOrder,
    *,
    task_queue: str = TASK_QUEUE,
    request_eager_start: bool = False,
    rpc_timeout: timedelta | None = None,
) -> WorkflowHandle[object, OrderStatusView]:
    """Start ``OrderWorkflow`` for ``request`` and return its handle once Temporal accepted it.

    * ID ``order-{OrderID}``; ``id_conflict_policy=FAIL`` and
      ``id_reuse_policy=ALLOW_DUPLICATE_FAILED_ONLY``: while the order's workflow runs, or after
      it completed, a second start raises
      :class:`temporalio.exceptions.WorkflowAlreadyStartedError` (the caller treats the message
      as a duplicate); after a failed run (DLQ) the order can be re-driven.
    * Search attributes ``CorrelationID`` and, when the message has one,
      ``ShipFromLocationID`` from the first moment; the workflow adds ``OrderStatus`` at Open.
    * Static summary for the Web UI: order, location, line count, total (as the handler read
      them; the workflow validates the order properly).
    * ``request.input.options`` carries the settings the workflow needs (retry budget, return
      window); build it with ``config.workflow.workflow_options(settings)``.
    * ``request_eager_start``: only useful when a worker for ``task_queue`` runs on this same
      client; saves the first workflow task's round trip.
    * ``rpc_timeout``: deadline of the start call itself (Temporal's default when None).
    """
    order, fields = request.input, request.fields
    attributes: list[SearchAttributePair[str]] = [
        SearchAttributePair(sa.CORRELATION_ID, order.correlation_id)
    ]
    if fields.ship_from_location_id is not None:
        attributes.append(
            SearchAttributePair(sa.SHIP_FROM_LOCATION_ID, fields.ship_from_location_id)
        )
    return await client.start_workflow(
        WORKFLOW_TYPE,
        order,
        id=request.workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(attributes),
        static_summary=order_summary(
            order.order_id, fields.ship_from_location_id, fields.line_count, fields.order_total
        ),
        result_type=OrderStatusView,
        request_eager_start=request_eager_start,
        rpc_timeout=rpc_timeout,
    )


async def start_with_contract_helper(
    client: Client, request: StartOrder, *, task_queue: str = TASK_QUEUE
) -> object:
    """The bridge's start: :func:`start_order_workflow` on ``task_queue`` (the worker's,
    ``ORDERFLOW_TEMPORAL__TASK_QUEUE``), with a deadline on the call itself."""
    return await start_order_workflow(
        client, request, task_queue=task_queue, rpc_timeout=START_RPC_TIMEOUT
    )
