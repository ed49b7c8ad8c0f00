"""Real ``orderflow`` processes in integration tests: run one, wait for its HTTP answers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest


def clean_environment(**env: str) -> dict[str, str]:
    """This process's environment without any ``ORDERFLOW_`` variable, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    return {**clean, **env}


async def wait_for_status(
    url: str, status: int, *, timeout_s: float = 60, body: str | None = None
) -> httpx.Response:
    """Poll ``url`` until it answers ``status`` (and contains ``body``), within a deadline."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    async with httpx.AsyncClient(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get(url)
                last = (response.status_code, response.text)
                if response.status_code == status and (body is None or body in response.text):
                    return response
            except httpx.HTTPError as error:
                last = error
            await asyncio.sleep(0.2)  # poll interval, bounded by the deadline
    pytest.fail(f"{url} did not answer {status} within {timeout_s}s; last: {last!r}")


def start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``orderflow COMMAND`` with ``env`` on a clean environment, output to ``log``."""
    with log.open("w") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "orderflow", command],
            env=clean_environment(**env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


@contextlib.asynccontextmanager
async def running(
    command: str, env: dict[str, str], log: Path
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """``orderflow COMMAND`` for the block; on exit SIGTERM, and it must exit 0.

    Waiting happens in a thread so this event loop (and what the test serves on it, e.g. a
    proxy the process talks through) keeps running while the process shuts down.
    """
    process = await asyncio.to_thread(start, command, env, log)
    try:
        yield process
    except BaseException:
        # Keep the test's own failure visible: stop the process without judging its exit.
        process.kill()
        await asyncio.to_thread(process.wait, 30)
        raise
    process.terminate()
    code = await asyncio.to_thread(process.wait, 60)
    assert code == 0, await asyncio.to_thread(log.read_text)
