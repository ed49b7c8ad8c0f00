"""Activity names: the only coupling between ``OrderWorkflow`` and the activity classes.

The workflow calls activities by these names so it never imports the database or Kafka code
(and tests can register mocks under the same names).
"""

from __future__ import annotations

# The path to Open in one step: validate, persist, publish both events.
OPEN_ORDER = "open_order"
VALIDATE_ORDER = "validate_order"
PERSIST_NEW_ORDER = "persist_new_order"
PERSIST_STATUS_CHANGE = "persist_status_change"
PUBLISH_VALIDATION_RESULT = "publish_validation_result"
PUBLISH_STATUS_EVENT = "publish_status_event"
WRITE_DEAD_LETTER = "write_dead_letter"

ALL: tuple[str, ...] = (
    OPEN_ORDER,
    VALIDATE_ORDER,
    PERSIST_NEW_ORDER,
    PERSIST_STATUS_CHANGE,
    PUBLISH_VALIDATION_RESULT,
    PUBLISH_STATUS_EVENT,
    WRITE_DEAD_LETTER,
)
