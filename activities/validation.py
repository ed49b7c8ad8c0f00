"""Validation activity: the contract's full validation of an ``order.create.v1`` message.

Pure and deterministic (same text, same outcome), so retries and re-runs are harmless. It is
an activity rather than workflow code because the rules change with the contract, and a change
to them must not break the replay of running workflows. The raw message is parsed once, by
:func:`contracts.order_create_v1.validation.parse_order`.
"""

from __future__ import annotations

from temporalio import activity

from activities import names
from activities.log import activity_logger
from activities.models import ValidateOrderInput
from contracts.order_create_v1.envelope import read_fields
from contracts.order_create_v1.validation import OrderValidation, parse_order
from contracts.workflow_io import ValidationOutcome


def validation_outcome(order_id: str, checked: OrderValidation) -> ValidationOutcome:
    """Every problem with the order as ``{Code, Field, Message}``, or a valid outcome with the
    figures the Web UI shows (line count, order total)."""
    order = checked.order
    if order is None:
        return ValidationOutcome(
            order_id=order_id,
            # Keys the invalid result by location when the message has a usable one.
            ship_from_location_id=read_fields(checked.payload).ship_from_location_id,
            valid=False,
            issues=checked.issues,
        )
    return ValidationOutcome(
        order_id=order_id,
        ship_from_location_id=order.ship_from_location_id,
        valid=True,
        line_count=len(order.order_lines),
        order_total=None if order.order_total is None else str(order.order_total),
    )


class ValidationActivities:
    """Validates orders. It has no dependencies but is a class like its siblings, so the worker
    wires every activity the same way."""

    @activity.defn(name=names.VALIDATE_ORDER)
    async def validate_order(self, request: ValidateOrderInput) -> ValidationOutcome:
        outcome = validation_outcome(request.order_id, parse_order(request.raw_message))
        activity_logger(request.order_id, request.correlation_id).debug(
            "order validated",
            valid=outcome.valid,
            issue_codes=[issue.Code.value for issue in outcome.issues],
        )
        return outcome
