"""Child processes that never outlive the stack.

Each service runs in its own process group (so a stop reaches its grandchildren too), logs to
a file (so a failure can be reported with the tail of that file) and, on Linux, receives a
signal when the supervising thread dies (``PR_SET_PDEATHSIG``), so even a ``kill -9`` of the
supervisor leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """A service failed to start or died; the message carries the tail of its log."""


def find_binary(name: str) -> str:
    """Locate an executable shipped by a package in this interpreter's environment.

    The environment's ``bin`` folder beside ``sys.executable`` wins over ``PATH``, so the
    versions pinned by the project are used even when the venv is not activated.
    """
    import shutil

    beside_interpreter = Path(sys.executable).parent / name
    if beside_interpreter.is_file() and os.access(beside_interpreter, os.X_OK):
        return str(beside_interpreter)
    on_path = shutil.which(name)
    if on_path is None:
        raise ServiceError(f"executable {name!r} not found beside {sys.executable} nor on PATH")
    return on_path


def _parent_death_hook(sig: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking the kernel to send ``sig`` when our thread dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return hook


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16_384))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """One supervised child: started in its own process group, output appended to ``log_path``.

    ``stop_signal`` is what a graceful stop sends (PostgreSQL wants SIGINT for a fast
    shutdown); after ``stop_timeout_s`` the whole group is killed.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    stop_timeout_s: float = 15.0
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    # time.monotonic() of the last start: how long a process ran decides its restart back-off.
    started_at: float = field(default=0.0, init=False, repr=False)
    # Set once the group of the current popen has been cleaned up, so a later stop() does not
    # signal a process group whose id the kernel may have handed to someone else by then.
    _stopped: bool = field(default=False, init=False, repr=False)

    def start(self) -> None:
        """Start (or, after it exited and was stopped, start again) appending to the log."""
        if self.popen is not None and not self._stopped:
            raise ServiceError(
                f"{self.name} is already running (pid {self.popen.pid}): stop it first"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(  # noqa: S603 - argv is built by the stack, never a shell
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
                user=self.user,
                start_new_session=True,  # own process group: a stop reaches grandchildren
                preexec_fn=_parent_death_hook(self.stop_signal),
            )
            self.started_at = time.monotonic()
            self._stopped = False

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise ServiceError(f"{self.name} was never started")
        return self.popen.pid

    def exit_code(self) -> int | None:
        """The exit code once the process has ended, else None."""
        return None if self.popen is None else self.popen.poll()

    def failure(self, what: str) -> ServiceError:
        """An error naming this service, with the tail of its log."""
        tail = log_tail(self.log_path)
        return ServiceError(f"{self.name} {what} (log: {self.log_path})\n{tail}")

    def stop(self) -> int | None:
        """Stop the whole process group: ``stop_signal``, then SIGKILL after the timeout.

        Idempotent; returns the exit code of the main process.
        """
        if self.popen is None:
            return None
        if self._stopped:
            return self.popen.returncode
        if self.popen.poll() is None:
            self._signal_group(self.stop_signal)
            try:
                self.popen.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=10)
        # Grandchildren that ignored the signal (or outlived their parent) go now.
        self._signal_group(signal.SIGKILL)
        self._stopped = True
        return self.popen.returncode

    def _signal_group(self, sig: int) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    process: ManagedProcess | None = None,
    what: str = "ready",
    interval_s: float = 0.1,
) -> None:
    """Poll ``check`` until it returns True; fail early if ``process`` exits meanwhile."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return
        if process is not None and process.exit_code() is not None:
            raise process.failure(f"exited with code {process.exit_code()} before it was {what}")
        if time.monotonic() > deadline:
            if process is not None:
                raise process.failure(f"was not {what} within {timeout_s:.0f}s")
            raise ServiceError(f"not {what} within {timeout_s:.0f}s")
        time.sleep(interval_s)


def start_until_ready(
    process: ManagedProcess, ready: Callable[[], bool], *, timeout_s: float
) -> None:
    """Start ``process`` and wait until ``ready``; on any failure (or Ctrl-C) stop it again."""
    process.start()
    try:
        wait_until(ready, timeout_s=timeout_s, process=process)
    except BaseException:
        process.stop()
        raise
