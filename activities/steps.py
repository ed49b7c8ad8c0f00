"""Which step of a multi-step activity failed, carried to the workflow as data.

:func:`activities.opening.OpeningActivities.open_order` validates, persists and publishes in one
local activity; when it fails, the workflow must still know which stage to name in the DLQ
headers (``PERSIST`` or ``PUBLISH``). :func:`in_stage` re-raises a step's failure as an
``ApplicationError`` of the same type name (so retry policies and non-retryable business types
work as before) whose details carry ``{"stage": ...}`` — and without the cause chain, so a
database error's DETAIL (``Failing row contains (…)``) never reaches history, a DLQ header or a
log line.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy.exc import StatementError
from temporalio.exceptions import ApplicationError

from contracts.dlq import DlqStage
from db.errors import redacted_message

T = TypeVar("T")


async def in_stage(stage: DlqStage, step: Awaitable[T]) -> T:
    """``await step``; a failure is re-raised with ``stage`` in its details (see above)."""
    try:
        return await step
    except ApplicationError as error:
        details = error.details[0] if error.details and isinstance(error.details[0], dict) else {}
        raise ApplicationError(
            error.message,
            {**details, "stage": stage.value},
            type=error.type,
            non_retryable=error.non_retryable,
        ) from None
    except StatementError as error:
        raise ApplicationError(
            redacted_message(error), {"stage": stage.value}, type=type(error).__name__
        ) from None
    except Exception as error:
        raise ApplicationError(
            str(error) or type(error).__name__, {"stage": stage.value}, type=type(error).__name__
        ) from None
