"""``python -m orderflow …`` as a child process of a test, the way an orchestrator runs it:
started with an environment of settings, stopped with SIGTERM (the graceful path: it must exit
0), killed when the test failed half-way, its output kept in a log file (a file, not a pipe: a
chatty child must never block on a full pipe) and printed, which pytest shows on failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS_PREFIX = "ORDERFLOW_"


def clean_environment(**env: str) -> dict[str, str]:
    """This process's environment without any ``ORDERFLOW_`` variable, plus ``env``: a child
    sees exactly the settings the test gives it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIX)}
    return {**clean, **env}


class OrderflowProcess:
    """One ``orderflow`` command; ``log_path`` collects its stdout and stderr (appended, so a
    restarted process adds to the same log)."""

    def __init__(self, *args: str, env: Mapping[str, str], log_path: Path) -> None:
        self.args = args
        self.env = dict(env)
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "orderflow",
                *self.args,
                cwd=REPO_ROOT,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    def signal(self, sig: int) -> None:
        assert self.process is not None, "not started"
        self.process.send_signal(sig)

    async def wait(self, timeout_s: float) -> int:
        assert self.process is not None, "not started"
        return await asyncio.wait_for(self.process.wait(), timeout=timeout_s)

    async def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, then the exit code once the process has shut down."""
        self.signal(signal.SIGTERM)
        return await self.wait(timeout_s)

    async def ensure_stopped(self) -> None:
        """Kill the process if it still runs (a test that failed before stopping it)."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@asynccontextmanager
async def orderflow_process(
    *args: str, env: Mapping[str, str], log_path: Path, stop_timeout_s: float = 60.0
) -> AsyncIterator[OrderflowProcess]:
    """``orderflow ARGS`` for the block. Leaving the block normally sends SIGTERM and asserts
    exit code 0; leaving it with an exception kills the process without judging its exit (the
    test's own failure stays the one reported)."""
    process = OrderflowProcess(*args, env=env, log_path=log_path)
    await process.start()
    try:
        yield process
    except BaseException:
        await process.ensure_stopped()
        print(process.log_text())
        raise
    code = await process.terminate(stop_timeout_s)
    assert code == 0, f"orderflow {' '.join(args)} exited with {code}:\n{process.log_text()}"
