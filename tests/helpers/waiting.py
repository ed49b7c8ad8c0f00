"""Waiting with a deadline: poll a probe until it passes, fail with what was awaited.

A probe *passes* when it returns anything but ``False`` without raising: it may return a bool
(``lag_is_zero``), assert (``assert view.status_code == 1000``) or return the value the test
wants next. On time-out the test fails with an ``AssertionError`` naming ``what``, chained to
the probe's last exception. The interval only paces the polling; no test waits a fixed time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_INTERVAL_S = 0.05


class _Deadline:
    def __init__(self, timeout_s: float, what: str) -> None:
        self.timeout_s = timeout_s
        self.what = what
        self.ends = time.monotonic() + timeout_s

    def give_up(self, last_error: BaseException | None) -> None:
        """Raise when the time is up (after at least one attempt)."""
        if time.monotonic() >= self.ends:
            message = f"timed out after {self.timeout_s:g}s waiting for {self.what}"
            raise AssertionError(message) from last_error


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = DEFAULT_INTERVAL_S,
    what: str = "the condition",
) -> T:
    """The first passing result of the async ``probe``, polling until ``timeout_s``."""
    deadline = _Deadline(timeout_s, what)
    while True:
        error: BaseException | None = None
        try:
            result = await probe()
            if result is not False:
                return result
        except Exception as exc:
            error = exc
        deadline.give_up(error)
        await asyncio.sleep(interval_s)


def wait_until(
    probe: Callable[[], T],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    interval_s: float = DEFAULT_INTERVAL_S,
    what: str = "the condition",
) -> T:
    """:func:`eventually` for a blocking probe, in code without a running event loop (sync
    fixtures and tests); async code awaits ``eventually`` with ``asyncio.to_thread`` instead."""

    async def attempt() -> T:
        return probe()

    return asyncio.run(eventually(attempt, timeout_s=timeout_s, interval_s=interval_s, what=what))
