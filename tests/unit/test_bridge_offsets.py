"""Per-partition commit positions while records finish out of order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridges.offsets import OffsetTracker


def test_commits_only_below_the_lowest_unfinished_offset() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.take("p0", offset)
    assert tracker.committable() == {"p0": 10}
    tracker.finish("p0", 11)
    tracker.finish("p0", 12)
    assert tracker.committable() == {"p0": 10}  # 10 still in flight
    tracker.finish("p0", 10)
    assert tracker.committable() == {"p0": 13}


def test_partitions_are_independent() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.take("a", 0)
    tracker.take("b", 5)
    tracker.finish("b", 5)
    assert tracker.committable() == {"a": 0, "b": 6}
    assert tracker.in_flight(["a"]) == 1
    assert tracker.in_flight(["b"]) == 0


def test_only_moved_positions_are_committable_again() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.take("p", 0)
    tracker.finish("p", 0)
    tracker.mark_committed(tracker.committable())
    assert tracker.committable() == {}
    tracker.take("p", 1)
    assert tracker.committable() == {}  # still at 1, already committed
    tracker.finish("p", 1)
    assert tracker.committable() == {"p": 2}


def test_finishes_after_forget_are_ignored() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.take("p", 3)
    tracker.forget(["p"])
    tracker.finish("p", 3)
    assert tracker.committable() == {}
    assert tracker.in_flight() == 0


@given(st.permutations(list(range(30))), st.integers(min_value=0, max_value=30))
def test_position_never_passes_an_unfinished_offset(order, finished_count) -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    for offset in range(30):
        tracker.take("p", offset)
    finished = set(order[:finished_count])
    for offset in order[:finished_count]:
        tracker.finish("p", offset)
    position = tracker.committable()["p"]
    # Everything below the position is finished, and the position itself is not (or is the end).
    assert all(offset in finished for offset in range(position))
    assert position == 30 or position not in finished
