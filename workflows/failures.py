"""Turning activity failures into DLQ headers and workflow failures. Pure, workflow-safe."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

# What a failed activity call raises in the workflow: a regular activity's ActivityError, or a
# local activity's cause itself. Cancellation is deliberately not among them.
ACTIVITY_FAILURES: tuple[type[FailureError], ...] = (
    ActivityError,
    ApplicationError,
    ActivityTimeoutError,
)


@dataclass(frozen=True)
class ActivityFailure:
    """What went wrong in an activity, in the terms of the DLQ headers."""

    error_type: str
    message: str
    attempts: int
    # True when the retry budget was spent; False for a non-retryable (business) refusal.
    budget_exhausted: bool
    # The DLQ stage a multi-step activity named for the step that failed (activities.steps).
    stage: str | None = None


def describe(
    err: FailureError, *, max_attempts: int, non_retryable_types: frozenset[str] = frozenset()
) -> ActivityFailure:
    """The error type, message and attempt count behind a failed activity call.

    A regular activity fails with an :class:`ActivityError` wrapping the cause; a local one
    raises the cause itself and reports no retry state. So the budget is inferred: a failure
    that is not marked non-retryable (nor of a non-retryable type) ended only because every
    attempt failed.
    """
    cause = err.cause if isinstance(err, ActivityError) else err
    error_type = type(cause).__name__ if cause is not None else "ActivityError"
    message = str(cause) if cause is not None else str(err)
    refused = False
    attempt_hint = 1
    stage: str | None = None
    if isinstance(cause, ApplicationError):
        error_type = cause.type or error_type
        message = cause.message
        refused = cause.non_retryable or error_type in non_retryable_types
        if cause.details and isinstance(cause.details[0], dict):
            hint = cause.details[0].get("attempt")
            attempt_hint = hint if isinstance(hint, int) else attempt_hint
            named = cause.details[0].get("stage")
            stage = named if isinstance(named, str) else None
    elif isinstance(cause, ActivityTimeoutError):
        error_type = f"ActivityTimeout.{cause.type.name}" if cause.type else "ActivityTimeout"
    return ActivityFailure(
        error_type=error_type,
        message=message,
        attempts=attempt_hint if refused else max_attempts,
        budget_exhausted=not refused,
        stage=stage,
    )
