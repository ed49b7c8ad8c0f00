"""``python -m orderflow …`` as a child process of a test, the way an orchestrator runs it:
started with an environment of settings, stopped with SIGTERM (the graceful path the tests
check: exit code 0), killed when a test fails half-way, its output kept in a log file (a file,
not a pipe: a chatty child must never block on a full pipe) and shown when the test fails.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    *args: str, env: Mapping[str, str], log_path: Path
) -> AsyncIterator[OrderflowProcess]:
    """A started :class:`OrderflowProcess`, killed on the way out if it still runs; its log is
    printed then, which pytest shows when the test failed."""
    process = OrderflowProcess(*args, env=env, log_path=log_path)
    await process.start()
    try:
        yield process
    finally:
        await process.ensure_stopped()
        print(process.log_text())
