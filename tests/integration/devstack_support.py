"""Helpers of the local-stack tests: ``orderflow dev`` as a subprocess on a scratch state folder
and free ports, its output read line by line, its children found and checked."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from orderflow.devstack.net import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
# Addresses of the caller's services: the stack must start its own here.
SERVICE_VARIABLES = (
    "ORDERFLOW_DATABASE__URL",
    "ORDERFLOW_TEMPORAL__ADDRESS",
    "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS",
    "ORDERFLOW_CODEC__KEYS",
    "ORDERFLOW_CODEC__ENABLED",
)


class DevStackRun:
    """One ``orderflow dev`` subprocess whose output is collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orderflow", "dev"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, text: str, timeout_s: float) -> str:
        """The next line containing ``text`` (lines before it are kept in ``lines``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self._queue.put(None)  # the end stays visible to the next reader
                break
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"no {text!r} line within {timeout_s}s; output:\n{self.output}")

    def wait_exit(self, timeout_s: float) -> int:
        """The stack's exit code once it ends on its own, with all its output read."""
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"orderflow dev still running after {timeout_s}s; output:\n{self.output}")
        while (line := self._queue.get(timeout=30)) is not None:
            self.lines.append(line)
        self._queue.put(None)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def descendants(self) -> list[psutil.Process]:
        children: list[psutil.Process] = psutil.Process(self.process.pid).children(recursive=True)
        return children

    def component_pid(self, name: str) -> int | None:
        """The PID of the stack's running ``orderflow <name>`` child, if there is one."""
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):
                if child.cmdline()[-3:] == ["-m", "orderflow", name] and child.status() not in (
                    psutil.STATUS_ZOMBIE,
                    psutil.STATUS_DEAD,
                ):
                    return int(child.pid)
        return None

    def interrupt(self, timeout_s: float = 60.0) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=timeout_s)

    def kill(self) -> None:
        if self.process.poll() is None:
            for child in self.descendants():
                child.kill()
            self.process.kill()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder outside pytest's tmp tree, which each new pytest session re-tightens to 0700:
    as root, PostgreSQL runs as another user that must be able to reach its data folder."""
    path = Path(tempfile.mkdtemp(prefix="orderflow-devstack-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stack_env(scratch: Path) -> dict[str, str]:
    """This process's environment for a stack of its own under ``scratch``, on free ports."""
    env = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    env.update(
        ORDERFLOW_STATE_DIR=str(scratch / "state"),
        ORDERFLOW_DEV__TEMPORAL_PORT=str(free_port()),
        ORDERFLOW_DEV__TEMPORAL_UI_PORT=str(free_port()),
        ORDERFLOW_DEV__BROKER_PORT=str(free_port()),
        ORDERFLOW_DEV__POSTGRES_PORT=str(free_port()),
        ORDERFLOW_DEV__WORKER_HTTP_PORT=str(free_port()),
        ORDERFLOW_DEV__BRIDGE_HTTP_PORT=str(free_port()),
        ORDERFLOW_API__PORT=str(free_port()),
        ORDERFLOW_CODEC__PORT=str(free_port()),
    )
    env.pop("ORDERFLOW_API__HOST", None)
    return env


def addresses(env: dict[str, str]) -> tuple[str, str, str, str]:
    """Temporal, its Web UI, the broker and the database of a stack started with ``env``."""
    temporal = f"127.0.0.1:{env['ORDERFLOW_DEV__TEMPORAL_PORT']}"
    ui = f"http://127.0.0.1:{env['ORDERFLOW_DEV__TEMPORAL_UI_PORT']}"
    broker = f"127.0.0.1:{env['ORDERFLOW_DEV__BROKER_PORT']}"
    database = f"postgresql://postgres@127.0.0.1:{env['ORDERFLOW_DEV__POSTGRES_PORT']}/orderflow"
    return temporal, ui, broker, database


def assert_nothing_left(children: list[psutil.Process]) -> None:
    assert children, "the stack should have started child processes"
    _, alive = psutil.wait_procs(children, timeout=10)
    leftovers = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not leftovers, f"left behind: {[p.cmdline() for p in leftovers]}"
