"""Retrying a side effect until it succeeds, with jittered exponential back-off, stoppable.

Why tenacity: it is the maintained, widely used retry library for asyncio, and its wait
strategies compose into the back-off we want ("equal jitter": half of each exponential step
fixed, half random, so waits never collapse towards zero and many records don't retry in
step). Temporal's client has its own RPC retry (``temporalio.service.RetryConfig``), but it
gives up after a bounded time and knows nothing of Kafka; here a record must never be
dropped, so we retry without a limit — and a shutdown must interrupt the wait at once, which
is what :func:`retry_until_done`'s sleep does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_never,
    wait_exponential,
    wait_random_exponential,
)

T = TypeVar("T")


class StopRequestedError(Exception):
    """The process is stopping: the operation was abandoned without its side effect confirmed."""


async def retry_until_done(
    operation: Callable[[], Awaitable[T]],
    *,
    is_transient: Callable[[BaseException], bool],
    initial_s: float,
    max_s: float,
    stop: asyncio.Event,
    on_failure: Callable[[BaseException, float], None],
) -> T:
    """Run ``operation`` until it returns; back off and retry while it raises transient errors.

    ``on_failure(error, next_wait_s)`` is called before each wait (for logs and metrics). A
    non-transient error is raised at once. When ``stop`` is set during a wait,
    :class:`StopRequestedError` is raised instead of retrying.
    """

    async def interruptible_sleep(seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise StopRequestedError

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait_s = state.next_action.sleep if state.next_action else 0.0
        on_failure(error or RuntimeError("unknown failure"), wait_s)

    retrying = AsyncRetrying(
        retry=retry_if_exception(is_transient),
        wait=wait_exponential(multiplier=initial_s / 2, max=max_s / 2)
        + wait_random_exponential(multiplier=initial_s / 2, max=max_s / 2),
        stop=stop_never,
        sleep=interruptible_sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    return await retrying(operation)


class Circuit:
    """One dependency's health, shared by every record that needs it.

    While it is failing, one caller (the prober) keeps retrying with back-off and the others
    wait in :meth:`admit` instead of piling requests onto a server that is down or
    rate-limiting us. The first success from anyone closes the circuit and lets everyone go.
    """

    def __init__(self) -> None:
        self._healthy = asyncio.Event()
        self._healthy.set()
        self._prober: asyncio.Task[object] | None = None

    @property
    def failing(self) -> bool:
        return not self._healthy.is_set()

    async def admit(self, stop: asyncio.Event) -> None:
        """Return when this caller may call the dependency; raise if ``stop`` is set first."""
        me = asyncio.current_task()
        while not self._healthy.is_set() and self._prober is not me:
            if self._prober is None or self._prober.done():
                self._prober = me
                return
            healthy = asyncio.ensure_future(self._healthy.wait())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({healthy, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                healthy.cancel()
                stopping.cancel()
            if stop.is_set():
                raise StopRequestedError

    def failed(self) -> None:
        """A call failed transiently: open the circuit; the first caller to fail probes."""
        if self._prober is None or self._prober.done():
            self._prober = asyncio.current_task()
        self._healthy.clear()

    def succeeded(self) -> None:
        """The dependency answered: close the circuit."""
        self._prober = None
        self._healthy.set()


async def guarded(
    call: Callable[[], Awaitable[T]],
    circuit: Circuit,
    *,
    is_transient: Callable[[BaseException], bool],
    stop: asyncio.Event,
) -> T:
    """One attempt of ``call`` through ``circuit`` (waits while another caller probes)."""
    await circuit.admit(stop)
    try:
        result = await call()
    except Exception as error:
        if is_transient(error):
            circuit.failed()
        else:
            circuit.succeeded()  # an answer, even a refusal, means the dependency is up
        raise
    circuit.succeeded()
    return result
