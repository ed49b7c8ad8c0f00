"""Correlation IDs: the one rule for accepting one, and the one way to make a new one.

A correlation ID travels in HTTP headers (``X-Correlation-ID``), Kafka headers
(``correlation-id``), a Temporal search attribute, PostgreSQL (a column of
:data:`~contracts.limits.CORRELATION_ID_MAX_LENGTH` characters that cannot hold NUL) and log lines.
So an accepted ID is 1 to 128 *visible ASCII* characters (``!`` to ``~``): nothing that an HTTP
header, a log parser or a search query could mangle. A candidate that breaks the rule is not
repaired (a cut or filtered ID would no longer match what its sender logged); the caller moves
on to its next candidate or makes a new ID.
"""

from __future__ import annotations

import re
import uuid

from contracts.limits import CORRELATION_ID_MAX_LENGTH

_VISIBLE_ASCII = re.compile(rf"[\x21-\x7e]{{1,{CORRELATION_ID_MAX_LENGTH}}}")


def accepted_correlation_id(candidate: str | None) -> str | None:
    """``candidate`` without surrounding white space when it obeys the rule, else None."""
    if candidate is None:
        return None
    text = candidate.strip()
    return text if _VISIBLE_ASCII.fullmatch(text) else None


def new_correlation_id() -> str:
    """A fresh correlation ID (a UUID in its canonical text form)."""
    return str(uuid.uuid4())
