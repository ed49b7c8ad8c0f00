"""The summary of a load-test run, its verdict, and how it is printed.

The verdict answers the question ops ask of a capacity test, in this order:

1. ``incomplete`` — a record has no outcome (after the wait), an outcome is not the one its
   kind should produce, an order opened twice, or the broker refused records: fix that first.
2. ``producer-behind`` — the load generator could not send on schedule (its worst slip past
   :data:`MAX_SLIP_S`, or under 95 % of the target rate): the run says nothing about the
   system at that rate. Send from more machines (each with a share of the rate) or a bigger one.
3. ``fell-behind`` — sent on schedule, but outcomes trailed: in the second half of the sending
   the outcomes came in at under 95 % of the target rate (with the pipeline full, a system
   that keeps up answers as fast as it is fed), or the backlog took longer than
   ``max(2 s, 2.5 % of the sending time)`` to drain after the last send.
4. ``kept-up`` — sent on schedule and the system followed; ``burst-done`` for a burst, whose
   completion rate is the capacity it measured.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from loadgen.ledger import Ledger, percentile

MAX_SLIP_S = 1.0
MIN_SEND_RATE_SHARE = 0.95
MIN_STEADY_RATE_SHARE = 0.95
MIN_DRAIN_ALLOWANCE_S = 2.0
DRAIN_ALLOWANCE_SHARE = 0.025
EXAMPLES = 10

EXIT_CODES = {
    "kept-up": 0,
    "burst-done": 0,
    "incomplete": 1,
    "fell-behind": 3,
    "producer-behind": 4,
}


@dataclass(frozen=True)
class Percentiles:
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: list[float]) -> Percentiles:
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 0.50),
            p95=percentile(ordered, 0.95),
            p99=percentile(ordered, 0.99),
            max=ordered[-1] if ordered else None,
        )


@dataclass(frozen=True)
class Summary:
    run_id: str
    topic: str
    mode: str  # "rate" or "burst"
    target_rate: float | None
    planned: int
    sent: int
    acknowledged: int
    send_failures: int
    send_seconds: float
    achieved_send_rate: float | None
    schedule_slip_ms: Percentiles
    opened: int
    rejected: int
    dead_letters: dict[str, int]
    missing: int
    missing_examples: list[str]
    unexpected: int
    unexpected_examples: list[str]
    opened_twice: int
    kafka_to_open_ms: Percentiles
    first_half_p95_ms: float | None
    second_half_p95_ms: float | None
    completion_seconds: float | None
    completion_rate: float | None
    # Outcomes per second while the second half of the records was being sent.
    steady_outcome_rate: float | None
    drain_seconds: float | None
    lag_at_end: int | None
    absent_topics: list[str]
    verdict: str
    verdict_text: str

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def render(self) -> str:
        return render(self)


def _halves_p95(ledger: Ledger) -> tuple[float | None, float | None]:
    """p95 Kafka->Open of the first and the second half of the opened orders, by send time."""
    pairs = ledger.open_latencies()
    half = len(pairs) // 2
    first = sorted(lat for _, lat in pairs[:half])
    second = sorted(lat for _, lat in pairs[half:])
    return percentile(first, 0.95), percentile(second, 0.95)


def summarize(
    ledger: Ledger,
    *,
    topic: str,
    planned: int,
    rate: float | None,
    lag_at_end: int | None,
    absent_topics: list[str],
) -> Summary:
    sent = list(ledger.sent.values())
    send_times = [s.sent_s for s in sent]
    send_seconds = (max(send_times) - min(send_times)) if send_times else 0.0
    achieved = (len(sent) - 1) / send_seconds if send_seconds > 0 else None
    accounted = [o.accounted_s for o in ledger.outcomes.values() if o.accounted_s is not None]
    first_send = min(send_times) if send_times else 0.0
    last_outcome = max(accounted) if accounted else None
    completion = last_outcome - first_send if last_outcome is not None else None
    missing = ledger.missing()
    unexpected = ledger.unexpected()
    first_half, second_half = _halves_p95(ledger)
    last_send = max(send_times) if send_times else 0.0
    steady = None
    if last_send >= 2 * MAX_SLIP_S:
        middle = first_send + (last_send - first_send) / 2
        arrived = sum(1 for at in accounted if middle <= at <= last_send)
        steady = round(arrived / (last_send - middle), 1)
    summary = Summary(
        run_id=ledger.run_id,
        topic=topic,
        mode="burst" if rate is None else "rate",
        target_rate=rate,
        planned=planned,
        sent=len(sent),
        acknowledged=ledger.acked,
        send_failures=sum(1 for s in sent if s.error is not None),
        send_seconds=round(send_seconds, 3),
        achieved_send_rate=round(achieved, 1) if achieved else None,
        schedule_slip_ms=Percentiles.of([(s.sent_s - s.scheduled_s) * 1000 for s in sent]),
        opened=ledger.opened,
        rejected=ledger.rejected,
        dead_letters=dict(sorted(ledger.dead_lettered.items())),
        missing=len(missing),
        missing_examples=[ledger.sent[seq].order_id for seq in missing[:EXAMPLES]],
        unexpected=len(unexpected),
        unexpected_examples=[f"{ledger.sent[s].order_id}: {why}" for s, why in unexpected][
            :EXAMPLES
        ],
        opened_twice=len(ledger.opened_twice()),
        kafka_to_open_ms=Percentiles.of(ledger.latencies_ms()),
        first_half_p95_ms=first_half,
        second_half_p95_ms=second_half,
        completion_seconds=round(completion, 3) if completion else None,
        completion_rate=round(ledger.accounted / completion, 1) if completion else None,
        steady_outcome_rate=steady,
        drain_seconds=round(last_outcome - last_send, 3) if last_outcome is not None else None,
        lag_at_end=lag_at_end,
        absent_topics=absent_topics,
        verdict="",
        verdict_text="",
    )
    verdict, text = judge(summary)
    return replace(summary, verdict=verdict, verdict_text=text)


def judge(s: Summary) -> tuple[str, str]:
    """(verdict, one sentence) — see the module docstring."""
    problems = []
    if s.missing:
        problems.append(f"{s.missing} record(s) without an outcome")
    if s.unexpected:
        problems.append(f"{s.unexpected} unexpected outcome(s)")
    if s.opened_twice:
        problems.append(f"{s.opened_twice} order(s) opened twice")
    if s.send_failures:
        problems.append(f"{s.send_failures} record(s) refused by the broker")
    if problems or not s.sent:
        return "incomplete", "INCOMPLETE: " + ("; ".join(problems) or "nothing was sent") + "."
    if s.mode == "burst":
        return "burst-done", (
            f"BURST DONE: {s.acknowledged} records accounted for in {s.completion_seconds} s: "
            f"the system handled {s.completion_rate}/s."
        )
    target = s.target_rate or 0.0
    slip_s = (s.schedule_slip_ms.max or 0.0) / 1000
    rate_short = (
        s.achieved_send_rate is not None
        and s.send_seconds >= 2
        and s.achieved_send_rate < MIN_SEND_RATE_SHARE * target
    )
    if slip_s > MAX_SLIP_S or rate_short:
        return "producer-behind", (
            f"PRODUCER BEHIND: this load generator sent {s.achieved_send_rate}/s of the "
            f"{target:g}/s asked (worst slip {slip_s:.1f} s), so the run says nothing about the "
            "system at that rate; send from more machines, each with a share of the rate."
        )
    allowed = max(MIN_DRAIN_ALLOWANCE_S, DRAIN_ALLOWANCE_SHARE * s.send_seconds)
    drain = s.drain_seconds or 0.0
    steady_short = (
        s.steady_outcome_rate is not None and s.steady_outcome_rate < MIN_STEADY_RATE_SHARE * target
    )
    if steady_short or drain > allowed:
        return "fell-behind", (
            f"FELL BEHIND: sent on schedule at {target:g}/s, but outcomes came at "
            f"{s.steady_outcome_rate}/s in the second half of the sending and the last one "
            f"{drain:.1f} s after the last send (allowed {allowed:.1f} s): a backlog built up."
        )
    return "kept-up", (
        f"KEPT UP: sent on schedule at {target:g}/s; outcomes came at "
        f"{s.steady_outcome_rate}/s in the second half of the sending and the last one "
        f"{drain:.1f} s after the last send."
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def render(s: Summary) -> str:
    """The human summary (what ``orderflow loadtest`` prints without ``--json``)."""
    plan = f"at {s.target_rate:g}/s" if s.target_rate is not None else "in one burst"
    stages = ", ".join(f"{k} {v}" for k, v in s.dead_letters.items()) or "none"
    lat = s.kafka_to_open_ms
    slip = s.schedule_slip_ms
    lines = [
        f"run {s.run_id}: {s.planned} records to {s.topic} {plan}",
        f"  sent         {s.sent} in {s.send_seconds:.2f} s = {s.achieved_send_rate or '-'}/s; "
        f"acknowledged {s.acknowledged}; schedule slip p99 {_ms(slip.p99)}, max {_ms(slip.max)}",
        f"  outcomes     {s.opened} opened, {s.rejected} rejected by validation; "
        f"dead letters by stage: {stages}",
        f"  missing      {s.missing}   unexpected {s.unexpected}   opened twice {s.opened_twice}",
        f"  Kafka->Open  p50 {_ms(lat.p50)}  p95 {_ms(lat.p95)}  p99 {_ms(lat.p99)}  "
        f"max {_ms(lat.max)}  ({lat.count} orders; p95 first half {_ms(s.first_half_p95_ms)}, "
        f"second half {_ms(s.second_half_p95_ms)})",
        f"  completion   {s.completion_rate or '-'} outcomes/s overall, "
        f"{s.steady_outcome_rate or '-'}/s in the second half of the sending; last outcome "
        f"{s.drain_seconds if s.drain_seconds is not None else '-'} s after the last send; "
        f"bridge lag at end {s.lag_at_end if s.lag_at_end is not None else 'unreadable'}",
    ]
    if s.missing_examples:
        lines.append(f"  missing e.g. {', '.join(s.missing_examples)}")
    lines += [f"  unexpected   {example}" for example in s.unexpected_examples]
    if s.absent_topics:
        lines.append(f"  not read     {', '.join(s.absent_topics)} (no such topic)")
    lines.append(f"  verdict      {s.verdict_text}")
    return "\n".join(lines)


def as_dict(summary: Summary) -> dict[str, Any]:
    return asdict(summary)
