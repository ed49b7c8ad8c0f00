"""``orderflow loadtest``: realistic orders at a fixed rate or in a burst, and what became of
them (the work is in :mod:`loadgen`; this module turns options and settings into a plan)."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from contracts.topics import BRIDGE_CONSUMER_GROUP, ORDER_CREATE_V1

HELP = """Send realistic orders; account for each: Open, rejected, DLQ, missing.

Needs only the Kafka settings (ORDERFLOW_KAFKA__*). It produces to
order.create.v1 and reads order.status.v1, order.validation.v1 and
order.create.v1.dlq from their current ends, matching outcomes by the
correlation-id header on each record (lt-<run>-<n>). Orders: LT-<run>-<n>.

\b
Modes:
  --rate 200 --duration 300   200 orders/s for 5 minutes (60,000 orders)
  --orders 20000 --burst      20,000 orders as fast as they can be sent
  --orders 5000 --rate 100    5,000 orders at 100/s

Progress (stderr): sent, opened, rejected, DLQ, in flight, the lag of the
orderflow-bridge group (if the broker lets us read it), p99 so far.
Summary (stdout, or --json): achieved rate, Kafka->Open p50/p95/p99 (Open
event record time minus order record time), dead letters by stage,
anything missing, and a verdict with its exit code:

\b
  kept-up          0  sent on schedule and the system followed
  burst-done       0  burst fully accounted; its rate is the capacity
  incomplete       1  no outcome, wrong outcome, or an order opened twice
  fell-behind      3  sent on schedule, but a backlog built up
  producer-behind  4  THIS MACHINE could not send at the rate asked: the
                      run says nothing about the system
  (no run)         5  the broker could not be reached or refused the topics

\b
Proving capacity in staging, from a machine in the same region:
  1. Load the staging Kafka settings (SASL_SSL, the Event Hubs connection
     string) and check them with `orderflow topics list`.
  2. Ceiling: `orderflow loadtest --orders 20000 --burst --json`; its
     completion rate is what the current replicas handle.
  3. Target with the real mix for 10 minutes: `orderflow loadtest
     --rate 1000 --duration 600 --invalid-share 0.01 --poison-share 0.001
     --json`. Pass: kept-up, p99 Kafka->Open < 1 s, nothing missing.
     Meanwhile watch worker/bridge CPU, Temporal Cloud APS and Event Hubs
     throttling.
  4. producer-behind: run N copies at --rate 1000/N each (their run IDs
     differ) and add up their figures.
  5. Half the target (--rate 500 --duration 300): p99 well under 1 s.
Every valid order becomes a real order (a PostgreSQL row and a running
workflow): use staging, never production.
"""


NO_RUN_EXIT_CODE = 5


def _lines(value: str) -> tuple[int, int]:
    low, _, high = value.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise typer.BadParameter("use N or MIN-MAX, e.g. 1-5") from None
    if not 1 <= bounds[0] <= bounds[1]:
        raise typer.BadParameter("need 1 <= MIN <= MAX")
    return bounds


def _count(rate: float | None, duration: float | None, orders: int | None, burst: bool) -> int:
    """The number of records the options ask for; BadParameter for a wrong combination."""
    if burst:
        if orders is None or rate is not None or duration is not None:
            raise typer.BadParameter("--burst takes --orders N (and neither --rate nor --duration)")
        return orders
    if rate is None:
        raise typer.BadParameter("give --rate (with --duration or --orders) or --orders N --burst")
    if (duration is None) == (orders is None):
        raise typer.BadParameter("with --rate give exactly one of --duration and --orders")
    return orders if orders is not None else max(1, round(rate * (duration or 0)))


def loadtest(
    rate: Annotated[float | None, typer.Option(min=0.01, help="Orders per second.")] = None,
    duration: Annotated[float | None, typer.Option(min=0.1, help="Seconds at --rate.")] = None,
    orders: Annotated[int | None, typer.Option(min=1, help="Number of orders.")] = None,
    burst: Annotated[bool, typer.Option(help="Send --orders all at once.")] = False,
    lines: Annotated[str, typer.Option(help="Lines per order: N or MIN-MAX.")] = "1-5",
    locations: Annotated[int, typer.Option(min=1, help="Ship-from locations.")] = 50,
    invalid_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share failing validation (0.01 = 1 %).")
    ] = 0.0,
    poison_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of poison records (not JSON, no OrderID).")
    ] = 0.0,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for outcomes after the last send.")
    ] = 120.0,
    topic: Annotated[str, typer.Option(help="Topic to send to.")] = ORDER_CREATE_V1,
    group: Annotated[
        str, typer.Option(help="The bridge's consumer group, for the lag ('' = don't read).")
    ] = BRIDGE_CONSUMER_GROUP,
    seed: Annotated[int, typer.Option(help="Seed of the order contents.")] = 1,
    run_id: Annotated[str | None, typer.Option(help="Run ID (default: random).")] = None,
    progress_every: Annotated[
        float | None,
        typer.Option(min=0.1, help="Seconds between progress lines (default 1, 10 if not a TTY)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Summary as JSON.")] = False,
) -> None:
    from aiokafka.errors import KafkaError

    from config.kafka import common_options, consumer_options, producer_options
    from config.settings import KAFKA, load_settings
    from loadgen.orders import OrderMix
    from loadgen.run import Kafka, LoadPlan, Progress, new_run_id, run_load

    count = _count(rate, duration, orders, burst)
    lines_min, lines_max = _lines(lines)
    if invalid_share + poison_share > 1:
        raise typer.BadParameter("--invalid-share + --poison-share must be <= 1")
    kafka = load_settings(KAFKA).kafka
    plan = LoadPlan(
        count=count,
        rate=None if burst else rate,
        mix=OrderMix(
            lines_min=lines_min,
            lines_max=lines_max,
            locations=locations,
            invalid_share=invalid_share,
            poison_share=poison_share,
            seed=seed,
        ),
        topic=topic,
        wait_s=wait,
        group=group or None,
        run_id=run_id or new_run_id(),
    )
    tty = sys.stderr.isatty()

    def show(progress: Progress) -> None:
        if tty:
            print(f"\r{progress.line()}\033[K", end="", file=sys.stderr, flush=True)
        else:
            print(progress.line(), file=sys.stderr, flush=True)

    try:
        summary = asyncio.run(
            run_load(
                plan,
                Kafka(
                    producer=producer_options(kafka),
                    consumer=consumer_options(kafka, group_id="orderflow-loadtest"),
                    admin=common_options(kafka),
                ),
                on_progress=show,
                progress_every_s=progress_every or (1.0 if tty else 10.0),
            )
        )
    except (KafkaError, OSError) as error:
        typer.echo(f"orderflow loadtest: broker {kafka.bootstrap_servers}: {error!r}", err=True)
        raise typer.Exit(NO_RUN_EXIT_CODE) from None
    if tty:
        print(file=sys.stderr)
    typer.echo(summary.to_json() if json_output else summary.render())
    raise typer.Exit(summary.exit_code)


loadtest.__doc__ = HELP
