"""Run the local stack in the foreground until Ctrl-C / SIGTERM, then stop every child.

Guarantees: every child runs in its own process group and is stopped (gracefully, then
killed) on SIGINT, SIGTERM or SIGHUP, on a failed start, when an embedded service (PostgreSQL,
Temporal, the broker) dies, and when an application process (worker, bridge, API) exits with a
configuration error or keeps crashing; children also get a signal from the kernel if this
process is killed outright (see ``process.py``). Any other exit of an application process is
restarted after a back-off (policy in ``restart.py``), so a crash can be watched losing nothing.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import assert_never

from config.settings import Settings, env_name
from orderflow.devstack.components import APP_COMPONENTS
from orderflow.devstack.process import ManagedProcess, ServiceError, log_tail
from orderflow.devstack.restart import (
    CONFIG_ERROR_EXIT_CODE,
    ConfigurationError,
    GiveUp,
    Restart,
    RestartPolicy,
    RestartTracker,
    describe_exit,
)
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

    0 after a stop requested by a signal; 2 when an application process exited with a
    configuration error; 1 when a service failed to start or died, or an application process
    kept crashing.
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
    dev = dev or DevStackSettings()
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
        return supervise(stack.processes, dev.restart_policy(), stop_requested, echo, echo_err)
    finally:
        # A second Ctrl-C must not interrupt the clean-up that stops the children.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        echo("orderflow dev: stopping")
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        echo("orderflow dev: stopped")


@dataclass
class _Child:
    """A process the stack watches; ``tracker`` is None for a service that is never restarted."""

    process: ManagedProcess
    tracker: RestartTracker | None
    restart_at: float | None = None


def supervise(
    processes: list[ManagedProcess],
    policy: RestartPolicy,
    stop_requested: threading.Event,
    echo: Callable[[str], None],
    echo_err: Callable[[str], None],
) -> int:
    """Watch the children until a signal asks to stop (0) or one cannot go on (its exit code
    for the stack). Restarts happen here, in the signal-handling thread, so a stop request
    is seen between any two steps and a child waiting for its restart is simply not started."""
    children = [
        _Child(p, RestartTracker(policy) if p.name in APP_COMPONENTS else None) for p in processes
    ]
    timeout_s = _WATCH_INTERVAL_S
    while not stop_requested.wait(timeout_s):
        for child in children:
            code = _step(child, policy, time.monotonic(), echo, echo_err)
            if code is not None:
                return code
        pending = [c.restart_at for c in children if c.restart_at is not None]
        timeout_s = min([_WATCH_INTERVAL_S, *(at - time.monotonic() for at in pending)])
        timeout_s = max(timeout_s, 0.0)
    return 0


def _step(
    child: _Child,
    policy: RestartPolicy,
    now: float,
    echo: Callable[[str], None],
    echo_err: Callable[[str], None],
) -> int | None:
    """Look after one child; an exit code for the stack when it must stop, else None."""
    process = child.process
    if child.restart_at is not None:
        if now >= child.restart_at:
            child.restart_at = None
            process.start()
            echo(f"orderflow dev: {process.name} restarted: pid {process.pid}")
        return None
    code = process.exit_code()
    if code is None:
        return None
    process.stop()  # whatever it left in its process group goes too
    if child.tracker is None:
        echo_err(f"orderflow dev: {process.failure(describe_exit(code))}")
        return 1
    exited = f"{process.name} {describe_exit(code)}"
    match child.tracker.on_exit(code, now=now, ran_for_s=now - process.started_at):
        case Restart(delay_s=delay_s, count=count):
            child.restart_at = now + delay_s
            echo_err(
                f"orderflow dev: {exited} (log: {process.log_path}); restarting in {delay_s:.1f}s "
                f"(restart {count} of at most {policy.limit} within {policy.window_s:g}s)"
            )
            return None
        case GiveUp(count=count):
            limits = (
                f"{env_name('dev', 'restart_limit')}={policy.limit}, "
                f"{env_name('dev', 'restart_window_s')}={policy.window_s:g}"
            )
            what = f"{describe_exit(code)} after {count} restarts within {policy.window_s:g}s"
            echo_err(f"orderflow dev: {process.failure(f'{what}: giving up ({limits})')}")
            return 1
        case ConfigurationError():
            error = _config_error_line(process)
            echo_err(
                f"orderflow dev: {exited}, a configuration error (not restarted): {error} "
                f"(log: {process.log_path})"
            )
            return CONFIG_ERROR_EXIT_CODE
        case unexpected:
            assert_never(unexpected)


def _config_error_line(process: ManagedProcess) -> str:
    """The one line naming the setting that every command prints before exiting 2
    (``orderflow: ...``, see ``orderflow.cli``); else the last line of the log."""
    lines = log_tail(process.log_path).splitlines()
    prefixed = [line for line in lines if line.startswith("orderflow: ")]
    return (prefixed or lines or [""])[-1]
