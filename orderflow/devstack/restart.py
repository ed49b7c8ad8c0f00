"""When the local stack restarts an application process that exited: the policy, without I/O.

Modelled on a process manager (systemd ``Restart=`` with ``RestartPreventExitStatus=`` and
``StartLimitBurst=`` / ``StartLimitIntervalSec=``, supervisord's ``startretries``):

* Any exit the stack did not ask for is a failure, including exit code 0 (``kill <pid>`` makes
  a worker drain and exit 0; a stack left without a worker would look alive and do nothing).
* Exit code 2 is a configuration error (the CLI's code for a missing or invalid setting): it
  fails the same way on every start, so the process is not restarted and the stack stops.
* The delay before a restart doubles with each consecutive failure, from ``backoff_initial_s``
  up to ``backoff_max_s``. A process that ran for at least ``window_s`` counts as healthy: its
  next failure starts the back-off afresh (by then no earlier restart is inside the window).
* More than ``limit`` restarts within ``window_s`` means a crash loop: give up.

Times are plain ``float`` seconds from a monotonic clock, passed in, so the policy is tested
without processes or sleeps.
"""

from __future__ import annotations

import collections
import signal
from dataclasses import dataclass, field

# ``orderflow.cli.CONFIG_ERROR_EXIT_CODE``, the code of every command whose settings are
# incomplete; not imported from there, because the CLI imports the stack (a unit test checks
# the two agree).
CONFIG_ERROR_EXIT_CODE = 2


@dataclass(frozen=True)
class RestartPolicy:
    limit: int
    window_s: float
    backoff_initial_s: float
    backoff_max_s: float

    def backoff_s(self, failures: int) -> float:
        """The delay before the restart that follows the ``failures``-th consecutive failure."""
        exponent = max(failures - 1, 0)
        # Capped before the power grows huge: 2**60 seconds is already past any maximum.
        return min(self.backoff_initial_s * 2.0 ** min(exponent, 60), self.backoff_max_s)


@dataclass(frozen=True)
class Restart:
    """Start the process again after ``delay_s``; ``count`` restarts (this one included) fall
    within the window."""

    delay_s: float
    count: int


@dataclass(frozen=True)
class GiveUp:
    """A crash loop: ``count`` restarts within the window already, and it failed again."""

    count: int


@dataclass(frozen=True)
class ConfigurationError:
    """Exit code 2: restarting cannot help."""


Decision = Restart | GiveUp | ConfigurationError


@dataclass
class RestartTracker:
    """The restart history of one process under ``policy``."""

    policy: RestartPolicy
    _restarts: collections.deque[float] = field(default_factory=collections.deque)
    _failures: int = 0

    def on_exit(self, code: int, *, now: float, ran_for_s: float) -> Decision:
        """What to do about a process that exited with ``code`` at ``now`` after running for
        ``ran_for_s``. A ``Restart`` is recorded as happening at ``now`` (the back-off is
        short next to the window)."""
        if code == CONFIG_ERROR_EXIT_CODE:
            return ConfigurationError()
        policy = self.policy
        if ran_for_s >= policy.window_s:
            self._failures = 0
        while self._restarts and now - self._restarts[0] >= policy.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= policy.limit:
            return GiveUp(count=len(self._restarts))
        self._failures += 1
        self._restarts.append(now)
        return Restart(delay_s=policy.backoff_s(self._failures), count=len(self._restarts))


def describe_exit(code: int) -> str:
    """``exited with code 1`` / ``was killed by SIGKILL`` (Popen reports a signal as -N)."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return f"was killed by {name}"
