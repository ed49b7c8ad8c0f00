"""Starting an order's workflow: the one helper every starter (the bridge, tools, tests) uses.

Importing this module has no side effects and pulls in neither the workflow code nor any
database or Kafka client: it needs only ``temporalio.client`` and the contracts.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)

from contracts.ids import workflow_id
from contracts.order_create_v1 import loads_object, usable_ship_from_location
from contracts.workflow_io import (
    TASK_QUEUE,
    WORKFLOW_TYPE,
    OrderStatusView,
    OrderWorkflowInput,
)
from workflows import search_attributes as sa
from workflows.summary import summary_from_payload


async def start_order_workflow(
    client: Client,
    order: OrderWorkflowInput,
    *,
    task_queue: str = TASK_QUEUE,
    request_eager_start: bool = False,
    rpc_timeout: timedelta | None = None,
) -> WorkflowHandle[object, OrderStatusView]:
    """Start ``OrderWorkflow`` for ``order`` and return its handle once Temporal accepted it.

    * ID ``order-{OrderID}``; ``id_conflict_policy=FAIL`` and
      ``id_reuse_policy=ALLOW_DUPLICATE_FAILED_ONLY``: while the order's workflow runs, or after
      it completed, a second start raises
      :class:`temporalio.exceptions.WorkflowAlreadyStartedError` (the caller treats the message
      as a duplicate); after a failed run (DLQ) the order can be re-driven.
    * Search attributes ``CorrelationID`` and, when the message has one,
      ``ShipFromLocationID`` from the first moment; the workflow adds ``OrderStatus`` at Open.
    * Static summary for the Web UI: order, location, line count, total (read leniently from
      the raw message; the workflow validates it properly).
    * ``order.options`` carries the worker settings the workflow needs (retry budget, return
      window); build it with ``config.workflow.workflow_options(settings)``.
    * ``request_eager_start``: only useful when a worker for ``task_queue`` runs on this same
      client; saves the first workflow task's round trip.
    * ``rpc_timeout``: deadline of the start call itself (Temporal's default when None).
    """
    attributes: list[SearchAttributePair[str]] = [
        SearchAttributePair(sa.CORRELATION_ID, order.correlation_id)
    ]
    payload = loads_object(order.raw_message)
    location = usable_ship_from_location(payload)
    if location is not None:
        attributes.append(SearchAttributePair(sa.SHIP_FROM_LOCATION_ID, location))
    return await client.start_workflow(
        WORKFLOW_TYPE,
        order,
        id=workflow_id(order.order_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        search_attributes=TypedSearchAttributes(attributes),
        static_summary=summary_from_payload(order.order_id, payload),
        result_type=OrderStatusView,
        request_eager_start=request_eager_start,
        rpc_timeout=rpc_timeout,
    )
