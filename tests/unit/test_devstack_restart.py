"""The local stack's restart policy, without processes: times are passed in."""

from __future__ import annotations

import signal

import pytest

from config.settings import ConfigError, read_settings
from orderflow.devstack import restart
from orderflow.devstack.restart import (
    ConfigurationError,
    Decision,
    GiveUp,
    Restart,
    RestartPolicy,
    RestartTracker,
    describe_exit,
)
from orderflow.devstack.settings import DevStackSettings

POLICY = RestartPolicy(limit=5, window_s=60.0, backoff_initial_s=1.0, backoff_max_s=10.0)
KILLED = -signal.SIGKILL


def crash_loop(tracker: RestartTracker, runs: int, *, ran_for_s: float = 0.5) -> list[Decision]:
    """``runs`` failures, each after ``ran_for_s`` plus the back-off the previous one got."""
    now, decisions = 0.0, list[Decision]()
    for _ in range(runs):
        now += ran_for_s
        decision = tracker.on_exit(1, now=now, ran_for_s=ran_for_s)
        decisions.append(decision)
        if isinstance(decision, Restart):
            now += decision.delay_s
    return decisions


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert [POLICY.backoff_s(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert POLICY.backoff_s(10_000) == 10.0


def test_repeated_failures_back_off_further_each_time() -> None:
    tracker = RestartTracker(POLICY)
    decisions = crash_loop(tracker, 4)
    assert decisions == [
        Restart(delay_s=1.0, count=1),
        Restart(delay_s=2.0, count=2),
        Restart(delay_s=4.0, count=3),
        Restart(delay_s=8.0, count=4),
    ]


def test_too_many_restarts_within_the_window_give_up() -> None:
    tracker = RestartTracker(POLICY)
    decisions = crash_loop(tracker, 6)
    assert all(isinstance(d, Restart) for d in decisions[:5])
    assert decisions[5] == GiveUp(count=5)


def test_restarts_older_than_the_window_no_longer_count() -> None:
    policy = RestartPolicy(limit=2, window_s=10.0, backoff_initial_s=1.0, backoff_max_s=1.0)
    tracker = RestartTracker(policy)
    assert tracker.on_exit(1, now=0.0, ran_for_s=1.0) == Restart(delay_s=1.0, count=1)
    assert tracker.on_exit(1, now=5.0, ran_for_s=4.0) == Restart(delay_s=1.0, count=2)
    # The restart at 0 left the window at 10: one restart inside it, so one more is allowed.
    assert tracker.on_exit(1, now=10.0, ran_for_s=4.0) == Restart(delay_s=1.0, count=2)
    assert tracker.on_exit(1, now=12.0, ran_for_s=1.0) == GiveUp(count=2)


def test_a_long_run_resets_the_backoff() -> None:
    tracker = RestartTracker(POLICY)
    crash_loop(tracker, 3)  # next back-off would be 8 s
    # Ran for the whole window: healthy again, the next failure starts from the initial delay.
    assert tracker.on_exit(KILLED, now=1_000.0, ran_for_s=60.0) == Restart(delay_s=1.0, count=1)
    assert tracker.on_exit(KILLED, now=1_002.0, ran_for_s=1.0) == Restart(delay_s=2.0, count=2)


def test_a_short_run_keeps_the_backoff_growing_even_outside_the_window() -> None:
    tracker = RestartTracker(POLICY)
    assert tracker.on_exit(1, now=0.0, ran_for_s=1.0) == Restart(delay_s=1.0, count=1)
    # The earlier restart left the window, but this run was short: still a crash loop pace.
    assert tracker.on_exit(1, now=100.0, ran_for_s=30.0) == Restart(delay_s=2.0, count=1)


def test_the_configuration_error_code_is_the_clis() -> None:
    from orderflow import cli

    assert restart.CONFIG_ERROR_EXIT_CODE == cli.CONFIG_ERROR_EXIT_CODE == 2


def test_configuration_error_is_never_restarted() -> None:
    tracker = RestartTracker(POLICY)
    assert tracker.on_exit(2, now=0.0, ran_for_s=0.1) == ConfigurationError()
    # Even after a history of ordinary restarts, and without using up the budget.
    crash_loop(tracker, 2)
    assert tracker.on_exit(2, now=500.0, ran_for_s=100.0) == ConfigurationError()


@pytest.mark.parametrize("code", [0, 1, 3, 137, -signal.SIGKILL, -signal.SIGSEGV, -signal.SIGTERM])
def test_every_other_exit_is_restarted(code: int) -> None:
    """A clean exit too: the stack never asked the process to stop."""
    assert RestartTracker(POLICY).on_exit(code, now=0.0, ran_for_s=5.0) == Restart(1.0, 1)


def test_a_limit_of_zero_never_restarts() -> None:
    policy = RestartPolicy(limit=0, window_s=60.0, backoff_initial_s=1.0, backoff_max_s=1.0)
    assert RestartTracker(policy).on_exit(1, now=0.0, ran_for_s=100.0) == GiveUp(count=0)


def test_exits_are_described_by_code_or_signal_name() -> None:
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(-signal.SIGSEGV) == "was killed by SIGSEGV"
    assert describe_exit(-200) == "was killed by signal 200"


def test_settings_build_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_DEV__RESTART_LIMIT", "3")
    monkeypatch.setenv("ORDERFLOW_DEV__RESTART_WINDOW_S", "20")
    monkeypatch.setenv("ORDERFLOW_DEV__RESTART_BACKOFF_INITIAL_S", "0.5")
    monkeypatch.setenv("ORDERFLOW_DEV__RESTART_BACKOFF_MAX_S", "4")
    assert read_settings(DevStackSettings).restart_policy() == RestartPolicy(
        limit=3, window_s=20.0, backoff_initial_s=0.5, backoff_max_s=4.0
    )


def test_a_maximum_below_the_initial_backoff_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_DEV__RESTART_BACKOFF_INITIAL_S", "5")
    monkeypatch.setenv("ORDERFLOW_DEV__RESTART_BACKOFF_MAX_S", "1")
    with pytest.raises(ConfigError, match="ORDERFLOW_DEV__RESTART_BACKOFF_MAX_S"):
        read_settings(DevStackSettings)


def test_a_negative_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERFLOW_DEV__RESTART_LIMIT", "-1")
    # read_settings names it ORDERFLOW_RESTART_LIMIT today (it assumes the Settings prefix).
    with pytest.raises(ConfigError, match="RESTART_LIMIT"):
        read_settings(DevStackSettings)
