"""Structured loggers for activities, bound to the order they work on."""

from __future__ import annotations

import structlog
from temporalio import activity

from contracts.ids import WORKFLOW_ID_PREFIX


def current_order_id() -> str:
    """The order of the running activity, from its workflow ID (``order-{OrderID}``)."""
    return (activity.info().workflow_id or "").removeprefix(WORKFLOW_ID_PREFIX)


def activity_logger(order_id: str, correlation_id: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger carrying ``order_id``, ``workflow_id``, ``correlation_id`` and the
    activity's name and attempt, so every line of an order can be found by any of them."""
    info = activity.info()
    logger: structlog.stdlib.BoundLogger = structlog.get_logger("orderflow.activities")
    return logger.bind(
        order_id=order_id,
        workflow_id=info.workflow_id,
        correlation_id=correlation_id,
        activity=info.activity_type,
        attempt=info.attempt,
    )
