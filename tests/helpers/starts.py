"""Starting an order's workflow in tests the way the bridge starts it.

The bridge's handler reads the message once and hands the starter what it read
(:class:`bridges.handler.StartOrder`); tests that build a workflow input themselves read those
fields with the same lenient reader before calling the production start helper.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle

from bridges.handler import StartOrder
from bridges.starter import start_order_workflow
from contracts.order_create_v1.envelope import loads_object, read_fields
from contracts.status import INITIAL_STATUS
from contracts.workflow_io import STATUS_QUERY, OrderStatusView, OrderWorkflowInput
from tests.helpers.waiting import eventually


def start_request(order: OrderWorkflowInput) -> StartOrder:
    """What the bridge's handler would hand the starter for ``order``'s message."""
    return StartOrder(order, read_fields(loads_object(order.raw_message)))


async def start_order(
    client: Client, order: OrderWorkflowInput, **options: Any
) -> WorkflowHandle[object, OrderStatusView]:
    """:func:`bridges.starter.start_order_workflow` for ``order`` (``options``: task queue …)."""
    return await start_order_workflow(client, start_request(order), **options)


async def until_open(
    handle: WorkflowHandle[object, OrderStatusView], timeout_s: float = 30
) -> None:
    """Wait until the order's workflow reports status 1000 Open."""

    async def is_open() -> None:
        view = await handle.query(STATUS_QUERY, result_type=OrderStatusView)
        assert view.status_code == INITIAL_STATUS

    await eventually(is_open, timeout_s=timeout_s, what=f"{handle.id} to be Open")
