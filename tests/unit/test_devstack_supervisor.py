"""The supervising loop of the local stack with tiny shell processes in place of the services.

Each test stops the loop from the output callback (as a Ctrl-C would), so nothing waits on a
clock: a stop request is honoured between any two steps.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orderflow.devstack.process import ManagedProcess, ServiceError
from orderflow.devstack.restart import RestartPolicy
from orderflow.devstack.supervisor import supervise

FAST = RestartPolicy(limit=2, window_s=60.0, backoff_initial_s=0.0, backoff_max_s=0.0)
# Long enough that a restart never happens while a test runs.
SLOW = RestartPolicy(limit=5, window_s=60.0, backoff_initial_s=600.0, backoff_max_s=600.0)


class Output:
    """The loop's lines; ``stop_on`` sets the stop event when a line contains it."""

    def __init__(self, stop: threading.Event, stop_on: str | None = None) -> None:
        self.lines: list[str] = []
        self._stop, self._stop_on = stop, stop_on

    def echo(self, line: str) -> None:
        self.lines.append(line)
        if self._stop_on is not None and self._stop_on in line:
            self._stop.set()


@pytest.fixture
def processes() -> Iterator[list[ManagedProcess]]:
    started: list[ManagedProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.fixture
def shell(tmp_path: Path, processes: list[ManagedProcess]) -> Callable[[str, str], ManagedProcess]:
    def make(name: str, script: str) -> ManagedProcess:
        process = ManagedProcess(
            name=name, argv=["sh", "-c", script], log_path=tmp_path / f"{name}.log", cwd=tmp_path
        )
        process.start()
        processes.append(process)
        return process

    return make


def test_a_crashing_component_is_restarted_until_the_limit(shell, processes) -> None:
    shell("bridge", "echo 'probe server could not listen'; exit 1")
    stop = threading.Event()
    out = Output(stop)
    assert supervise(processes, FAST, stop, out.echo, out.echo) == 1
    restarts = [line for line in out.lines if "restarting in" in line]
    assert len(restarts) == 2
    assert "bridge exited with code 1" in restarts[0]
    assert "bridge.log" in restarts[0]
    assert "restart 1 of at most 2 within 60s" in restarts[0]
    assert len([line for line in out.lines if "bridge restarted: pid" in line]) == 2
    give_up = out.lines[-1]
    assert "bridge exited with code 1 after 2 restarts within 60s: giving up" in give_up
    assert "ORDERFLOW_DEV__RESTART_LIMIT=2" in give_up
    assert give_up.endswith("probe server could not listen")  # the end of its log


def test_a_configuration_error_stops_at_once_with_its_line(shell, processes) -> None:
    # Whatever the interpreter prints on its way out, the CLI's one line is what is reported.
    shell("api", "echo 'orderflow: ORDERFLOW_API__TOKEN is not set'; echo 'at exit'; exit 2")
    stop = threading.Event()
    out = Output(stop)
    assert supervise(processes, FAST, stop, out.echo, out.echo) == 2
    assert len(out.lines) == 1
    assert "api exited with code 2, a configuration error (not restarted)" in out.lines[0]
    assert "(not restarted): orderflow: ORDERFLOW_API__TOKEN is not set (log: " in out.lines[0]


def test_a_dead_service_is_not_restarted(shell, processes) -> None:
    shell("temporal", "echo 'database is locked'; kill -9 $$")
    stop = threading.Event()
    out = Output(stop)
    assert supervise(processes, FAST, stop, out.echo, out.echo) == 1
    assert "temporal was killed by SIGKILL" in out.lines[0]
    assert "database is locked" in out.lines[0]
    assert not [line for line in out.lines if "restart" in line]


def test_a_restarted_component_runs_again(shell, processes, tmp_path: Path) -> None:
    # Crashes on its first run only.
    worker = shell("worker", "if [ -e crashed ]; then exec sleep 300; fi; touch crashed; exit 7")
    first_pid = worker.pid
    stop = threading.Event()
    out = Output(stop, stop_on="worker restarted")
    assert supervise(processes, FAST, stop, out.echo, out.echo) == 0
    assert "worker exited with code 7" in out.lines[0]
    assert out.lines[1] == f"orderflow dev: worker restarted: pid {worker.pid}"
    assert worker.pid != first_pid
    assert worker.exit_code() is None  # the second run is still going


def test_a_stop_during_the_backoff_leaves_the_component_down(shell, processes) -> None:
    worker = shell("worker", "exit 1")
    first_pid = worker.pid
    stop = threading.Event()
    out = Output(stop, stop_on="restarting in")
    assert supervise(processes, SLOW, stop, out.echo, out.echo) == 0
    assert "restarting in 600.0s" in out.lines[0]
    assert worker.pid == first_pid
    assert worker.exit_code() == 1


def test_a_process_is_started_again_only_after_a_stop(shell) -> None:
    process = shell("worker", "exec sleep 300")
    first_pid = process.pid
    with pytest.raises(ServiceError, match="worker is already running"):
        process.start()
    assert process.stop() == -signal.SIGTERM
    assert process.stop() == -signal.SIGTERM  # idempotent
    process.start()
    assert process.pid != first_pid
    assert process.exit_code() is None
