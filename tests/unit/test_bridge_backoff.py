"""Back-off that never drops a record, stops at once on shutdown, and one prober per outage."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.service import RPCError, RPCStatusCode

from bridges.backoff import Circuit, StopRequestedError, guarded, retry_until_done
from bridges.starter import is_transient


def unavailable() -> RPCError:
    return RPCError("down", RPCStatusCode.UNAVAILABLE, b"")


async def test_retries_transient_errors_until_success() -> None:
    calls = 0
    waits: list[float] = []

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise unavailable()
        return "ok"

    result = await retry_until_done(
        flaky,
        is_transient=is_transient,
        initial_s=0.01,
        max_s=0.04,
        stop=asyncio.Event(),
        on_failure=lambda error, wait: waits.append(wait),
    )
    assert result == "ok"
    assert calls == 4
    assert len(waits) == 3
    # Equal jitter: never below half the exponential step, never above the cap.
    assert all(0.005 <= w <= 0.04 for w in waits)


async def test_non_transient_errors_are_raised_at_once() -> None:
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b"")

    with pytest.raises(RPCError):
        await retry_until_done(
            refused,
            is_transient=is_transient,
            initial_s=0.01,
            max_s=0.01,
            stop=asyncio.Event(),
            on_failure=lambda error, wait: None,
        )
    assert calls == 1


async def test_stop_interrupts_the_wait() -> None:
    stop = asyncio.Event()

    async def down() -> None:
        stop.set()  # shutdown arrives while we are failing
        raise unavailable()

    with pytest.raises(StopRequestedError):
        await asyncio.wait_for(
            retry_until_done(
                down,
                is_transient=is_transient,
                initial_s=60,
                max_s=60,
                stop=stop,
                on_failure=lambda error, wait: None,
            ),
            timeout=5,
        )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (RPCError("x", RPCStatusCode.UNAVAILABLE, b""), True),
        (RPCError("x", RPCStatusCode.RESOURCE_EXHAUSTED, b""), True),
        (RPCError("x", RPCStatusCode.DEADLINE_EXCEEDED, b""), True),
        (RPCError("x", RPCStatusCode.PERMISSION_DENIED, b""), True),  # config, not the record
        (RPCError("x", RPCStatusCode.INVALID_ARGUMENT, b""), False),
        (RuntimeError("Failed client connect: refused"), True),
        (ValueError("bug"), False),
    ],
)
def test_transient_classification(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


async def test_followers_wait_while_one_caller_probes() -> None:
    circuit = Circuit()
    stop = asyncio.Event()
    server_up = False
    attempts = 0

    async def call() -> str:
        nonlocal attempts
        attempts += 1
        if not server_up:
            raise unavailable()
        return "ok"

    with pytest.raises(RPCError):
        await guarded(call, circuit, is_transient=is_transient, stop=stop)
    assert circuit.failing
    follower = asyncio.create_task(guarded(call, circuit, is_transient=is_transient, stop=stop))
    for _ in range(10):  # let the follower reach its wait
        await asyncio.sleep(0)
    assert not follower.done()
    assert attempts == 1  # the follower did not call a server that is down

    server_up = True
    assert await guarded(call, circuit, is_transient=is_transient, stop=stop) == "ok"  # the probe
    assert await asyncio.wait_for(follower, timeout=5) == "ok"
    assert not circuit.failing


async def test_waiting_followers_leave_on_stop() -> None:
    circuit = Circuit()
    stop = asyncio.Event()

    async def down() -> None:
        raise unavailable()

    with pytest.raises(RPCError):
        await guarded(down, circuit, is_transient=is_transient, stop=stop)
    follower = asyncio.create_task(guarded(down, circuit, is_transient=is_transient, stop=stop))
    for _ in range(10):
        await asyncio.sleep(0)
    stop.set()
    with pytest.raises(StopRequestedError):
        await asyncio.wait_for(follower, timeout=5)
