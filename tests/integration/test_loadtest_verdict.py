"""The load test's verdict and figures from synthetic ledgers (no services needed).

Each case plays a run into a :class:`loadgen.ledger.Ledger` with chosen send and outcome times
and checks that the summary tells the situations apart: the system kept up, the system fell
behind, the load generator itself fell behind, records went missing, a burst.
"""

from __future__ import annotations

from collections import Counter

import pytest

from loadgen.ledger import Histogram, Ledger
from loadgen.orders import Kind, OrderFactory, OrderMix
from loadgen.report import summarize

RUN = "verdict"
BASE_MS = 1_700_000_000_000


def play(
    count: int,
    rate: float | None,
    *,
    send_delay_s: float = 0.0,
    latency_s: float = 0.2,
    service_rate: float | None = None,
    drop: frozenset[int] = frozenset(),
) -> Ledger:
    """``count`` valid orders: record i due at i/rate, sent ``send_delay_s * i`` late (a slow
    producer), opened ``latency_s`` after it was sent, or queued behind a system that serves
    ``service_rate`` orders/s. Records in ``drop`` never get an outcome."""
    factory = OrderFactory(RUN, OrderMix())
    ledger = Ledger(RUN)
    free_at = 0.0
    for seq in range(count):
        record = factory.make(seq)
        due = 0.0 if rate is None else seq / rate
        sent = due + send_delay_s * seq
        ledger.on_sent(record, scheduled_s=due, sent_s=sent)
        created = BASE_MS + int(sent * 1000)
        ledger.on_acked(seq, at_s=sent, timestamp_ms=created, partition=0, offset=seq)
        if seq in drop:
            continue
        done = sent + latency_s
        if service_rate is not None:
            free_at = max(free_at, sent) + 1 / service_rate
            done = free_at + latency_s
        opened_ms = BASE_MS + int(done * 1000)
        ledger.on_open(record.correlation_id, f"{record.order_id}:1000:1", opened_ms, done)
    return ledger


def verdict_of(ledger: Ledger, rate: float | None, count: int) -> str:
    summary = summarize(ledger, topic="t", planned=count, rate=rate, lag_at_end=0, absent_topics=[])
    assert summary.exit_code in (0, 1, 3, 4)
    return summary.verdict


def test_a_system_faster_than_the_rate_kept_up() -> None:
    assert verdict_of(play(600, 20.0, service_rate=100.0), 20.0, 600) == "kept-up"


def test_a_system_slower_than_the_rate_fell_behind() -> None:
    assert verdict_of(play(600, 20.0, service_rate=15.0), 20.0, 600) == "fell-behind"


def test_a_producer_that_cannot_keep_its_schedule_is_named() -> None:
    # 5 ms late per record: after 600 records it is 3 s behind its schedule.
    ledger = play(600, 20.0, send_delay_s=0.005)
    assert verdict_of(ledger, 20.0, 600) == "producer-behind"


def test_missing_records_make_the_run_incomplete() -> None:
    summary = summarize(
        play(50, 10.0, drop=frozenset({3, 7})),
        topic="t",
        planned=50,
        rate=10.0,
        lag_at_end=None,
        absent_topics=[],
    )
    assert (summary.verdict, summary.missing) == ("incomplete", 2)
    assert summary.missing_examples == [f"LT-{RUN}-0000003", f"LT-{RUN}-0000007"]


def test_a_burst_reports_its_completion_rate() -> None:
    summary = summarize(
        play(200, None, service_rate=50.0),
        topic="t",
        planned=200,
        rate=None,
        lag_at_end=0,
        absent_topics=[],
    )
    assert summary.verdict == "burst-done"
    assert summary.completion_rate == pytest.approx(50.0, rel=0.05)
    assert summary.kafka_to_open_ms.count == 200


def test_an_order_opened_twice_is_reported() -> None:
    ledger = play(10, None)
    record = OrderFactory(RUN, OrderMix()).make(4)
    ledger.on_open(record.correlation_id, f"{record.order_id}:1000:2", BASE_MS + 900, 0.9)
    # The same EventID again is an ordinary at-least-once repeat.
    ledger.on_open(record.correlation_id, f"{record.order_id}:1000:1", BASE_MS + 950, 0.95)
    assert ledger.opened_twice() == [4]
    assert verdict_of(ledger, None, 10) == "incomplete"


def test_outcomes_of_other_runs_are_ignored() -> None:
    ledger = play(3, None)
    ledger.on_open("lt-otherrun-1", "X:1000:1", BASE_MS, 1.0)
    ledger.on_dead_letter("someone-else", "SCHEMA", 1.0)
    assert (ledger.opened, ledger.foreign_records, sum(ledger.dead_lettered.values())) == (3, 2, 0)


def test_shares_of_invalid_and_poison_records_are_exact() -> None:
    factory = OrderFactory(RUN, OrderMix(invalid_share=0.1, poison_share=0.05))
    kinds = Counter(factory.make(seq).kind for seq in range(200))
    assert kinds == {Kind.VALID: 170, Kind.INVALID: 20, Kind.POISON: 10}


def test_live_percentiles_are_within_one_percent() -> None:
    histogram = Histogram()
    for value in range(1, 1001):
        histogram.add(float(value))
    assert histogram.quantile(0.99) == pytest.approx(990, rel=0.011)
    assert histogram.quantile(0.50) == pytest.approx(500, rel=0.011)
