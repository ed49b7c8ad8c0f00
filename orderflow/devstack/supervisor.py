"""Run the local stack in the foreground until Ctrl-C / SIGTERM, then stop every child.

Guarantees: every child runs in its own process group and is stopped (gracefully, then
killed) on SIGINT, SIGTERM or SIGHUP, on a failed start and when any child dies; children
also get a signal from the kernel if this process is killed outright (see ``process.py``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from config.settings import Settings
from orderflow.devstack.process import ServiceError
from orderflow.devstack.settings import DevStackSettings
from orderflow.devstack.stack import Endpoints, LocalStack, safe_url

READY_LINE = "orderflow dev: ready (Ctrl-C stops everything)"
# How often a running stack checks that its children are still alive.
_WATCH_INTERVAL_S = 0.5


class _StopRequested(BaseException):
    """Raised from a signal handler while starting: unwinds into the clean-up path."""


def describe(endpoints: Endpoints) -> list[str]:
    """Human-readable lines saying where each service is."""
    lines = [
        f"  PostgreSQL       {safe_url(endpoints.database_url)}",
        f"  Temporal         {endpoints.temporal_address} (namespace default)",
    ]
    if endpoints.temporal_ui_url:
        lines.append(f"  Temporal Web UI  {endpoints.temporal_ui_url}")
    lines.append(f"  Kafka broker     {endpoints.bootstrap_servers}")
    if endpoints.api_url:
        lines.append(f"  API              {endpoints.api_url} (docs {endpoints.api_url}/docs)")
    for name, url in (("Worker", endpoints.worker_http_url), ("Bridge", endpoints.bridge_http_url)):
        if url:
            lines.append(f"  {name + ' probes':<16} {url}/health/ready, {url}/metrics")
    lines.append(f"  State folder     {endpoints.state_dir}")
    lines.append(f"  Other shells     source {endpoints.state_dir / 'dev.env'}")
    lines += [f"  {name:<16} {how}" for name, how in endpoints.started.items()]
    return lines


def run_dev_stack(
    settings: Settings,
    dev: DevStackSettings | None = None,
    *,
    echo: Callable[[str], None] = print,
    echo_err: Callable[[str], None] = print,
) -> int:
    """Start the stack, report where it is, supervise it; returns the process exit code.

    0 after a stop requested by a signal; 1 when a service failed to start or died.
    """
    stop_requested = threading.Event()
    starting = True

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()
        if starting:
            raise _StopRequested(signum)

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    stack = LocalStack(settings, dev, echo=echo)
    try:
        try:
            endpoints = stack.start()
        except _StopRequested:
            return 0
        except ServiceError as exc:
            echo_err(f"orderflow dev: {exc}")
            return 1
        starting = False
        echo("Orderflow local stack:")
        for line in describe(endpoints):
            echo(line)
        echo(READY_LINE)
        return _watch(stack, stop_requested, echo_err)
    finally:
        # A second Ctrl-C must not interrupt the clean-up that stops the children.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        echo("orderflow dev: stopping")
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        echo("orderflow dev: stopped")


def _watch(
    stack: LocalStack, stop_requested: threading.Event, echo_err: Callable[[str], None]
) -> int:
    while not stop_requested.wait(_WATCH_INTERVAL_S):
        for process in stack.processes:
            code = process.exit_code()
            if code is not None:
                echo_err(f"orderflow dev: {process.failure(f'exited with code {code}')}")
                return 1
    return 0
