"""The Manhattan-style status table and its transitions."""

from __future__ import annotations

import pytest

from contracts.status import ALLOWED_TRANSITIONS, OrderStatus, is_allowed, transition_refusal

CONTRACT_TABLE = {
    1000: {1500, 1600, 2000, 9000},
    1500: {2000, 9000},
    1600: {2000, 9000},
    2000: {1500, 3000, 9000},
    3000: {3500, 3600, 7000, 9000},
    3500: {3600, 7000},
    3600: {3700, 7000},
    3700: {7000},
    7000: {7500, 8000},
    7500: {8000},
    8000: {8500},
    8500: set(),
    9000: set(),
}


def test_table_matches_the_design_document() -> None:
    assert {int(k): {int(s) for s in v} for k, v in ALLOWED_TRANSITIONS.items()} == CONTRACT_TABLE


def test_names_and_terminal_statuses() -> None:
    assert OrderStatus(1000).display_name == "Open"
    assert OrderStatus(1500).display_name == "Back Ordered"
    assert OrderStatus(9000).display_name == "Canceled"
    assert {s for s in OrderStatus if s.is_terminal} == {OrderStatus.RETURNED, OrderStatus.CANCELED}


@pytest.mark.parametrize(("src", "dst"), [(s, d) for s, ds in CONTRACT_TABLE.items() for d in ds])
def test_allowed_transitions(src: int, dst: int) -> None:
    assert is_allowed(src, dst)
    assert transition_refusal(src, dst) is None


@pytest.mark.parametrize(
    ("src", "dst", "reason"),
    [
        (1000, 7000, "not allowed"),
        (1000, 1000, "not allowed"),
        (9000, 1000, "terminal"),
        (8500, 8000, "terminal"),
        (1000, 1234, "unknown status code 1234"),
        (4242, 1000, "unknown status code 4242"),
    ],
)
def test_refused_transitions_say_why(src: int, dst: int, reason: str) -> None:
    assert not is_allowed(src, dst)
    refusal = transition_refusal(src, dst)
    assert refusal is not None
    assert reason in refusal
