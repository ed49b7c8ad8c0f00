"""Validation activity: the contract's full validation of an ``order.create.v1`` message.

Pure and deterministic (same text, same outcome), so retries and re-runs are harmless. It is
an activity rather than workflow code because the rules change with the contract, and a change
to them must not break the replay of running workflows.
"""

from __future__ import annotations

from temporalio import activity

from activities import names
from activities.log import activity_logger
from activities.models import ValidateOrderInput
from contracts.order_create_v1 import (
    MessageDecodeError,
    loads,
    usable_ship_from_location,
    validate_order,
    validate_order_json,
)
from contracts.workflow_io import ValidationOutcome


def validate_raw_order(order_id: str, raw_message: str) -> ValidationOutcome:
    """Every problem with the order as ``{Code, Field, Message}``, or a valid outcome with the
    figures the Web UI shows (line count, order total)."""
    try:
        payload: object = loads(raw_message)
    except MessageDecodeError:
        # The bridge only starts workflows for JSON objects; report it as an issue anyway.
        return ValidationOutcome(
            order_id=order_id,
            ship_from_location_id=None,
            valid=False,
            issues=validate_order_json(raw_message).issues,
        )
    validation = validate_order(payload)
    order = validation.order
    if order is None:
        return ValidationOutcome(
            order_id=order_id,
            # Keys the invalid result by location when the message has a usable one.
            ship_from_location_id=usable_ship_from_location(payload),
            valid=False,
            issues=validation.issues,
        )
    return ValidationOutcome(
        order_id=order_id,
        ship_from_location_id=order.ShipFromLocationID,
        valid=True,
        line_count=len(order.OrderLines),
        order_total=None if order.OrderTotal is None else str(order.OrderTotal),
    )


class ValidationActivities:
    """Validates orders. It has no dependencies but is a class like its siblings, so the worker
    wires every activity the same way."""

    @activity.defn(name=names.VALIDATE_ORDER)
    async def validate_order(self, request: ValidateOrderInput) -> ValidationOutcome:
        outcome = validate_raw_order(request.order_id, request.raw_message)
        activity_logger(request.order_id, request.correlation_id).debug(
            "order validated",
            valid=outcome.valid,
            issue_codes=[issue.Code.value for issue in outcome.issues],
        )
        return outcome
