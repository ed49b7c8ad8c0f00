"""The real pipeline's cost per order: Kafka -> bridge -> Temporal -> worker -> PostgreSQL ->
Open event, measured per process, with the bare ceiling and the naive design in the same run.

Against the running local stack (``orderflow dev``; ``source <state>/dev.env``) or any
environment the ``ORDERFLOW_*`` settings point at, each variant gets its own processes and
names, so it is measured on its own PIDs and the stack's own bridge and worker never see its
records:

* its own topic ``bench.<run>.<variant>`` (partitions as ``ORDERFLOW_KAFKA__PARTITIONS``),
  consumer group and task queue;
* its own worker: the real ``python -m orderflow worker`` (the bare ceiling: a worker running an
  empty workflow), and its own bridge: the production bridge loop with the production start
  call, on the variant's topic and task queue (``benchmarks/pipeline_procs.py``);
* the stack's Temporal server, PostgreSQL and broker, found by the port they listen on.

Per variant: a warm-up burst (not measured), then ``--orders`` valid orders of ``--lines`` lines
in one burst; it waits for every Open event on ``order.status.v1`` (bare ceiling: every empty
workflow completed) and reports:

* CPU ms per order of each process tree (worker, bridge, Temporal, PostgreSQL, broker), from
  ``/proc/<pid>/stat`` utime + stime (children included) before and after the measured burst,
  net of what each process uses while idle (measured for ``--idle`` seconds before the burst:
  pollers, timers; it would otherwise grow with a slow variant's duration); the gross figures
  and the idle rates are in the JSON;
* orders/s: orders / (last Open event's record time - first order's record time);
* Kafka -> Open p50/p95/p99: Open event record time - order record time (bare: workflow close);
* state transitions and history events per order (``DescribeWorkflowExecution``) and Temporal
  Cloud billable actions per order counted from the histories (``benchmarks/actions.py``), on a
  sample of ``--sample`` orders, with the history's bytes and event types;
* database rows, bytes and WAL per order, log lines and bytes per process, Kafka bytes and
  records per topic (``benchmarks/footprint.py``).

Then, for the variants that run ``OrderWorkflow`` (``benchmarks/pipeline_phases.py``):

* **status changes**: ``--status-changes`` of the measured orders move Open -> Allocated through
  the real API (``python -m orderflow api``, its own process), 16 requests in flight; the same
  figures per change, the API's CPU included, and the actions/events/bytes each update added to
  the order's history;
* **invalid orders**: a burst of ``--invalid`` orders that fail validation (-> DLQ); the same
  figures per invalid order.

These are the inputs of the cost model (``benchmarks/cost.py``).

Variants: ``design`` (the workflow and worker as configured: today's design with default
settings), ``before`` (release 0.1.0's levers: a local activity per step, the sandbox on),
``naive`` (a regular activity per step, the SDK's default sandbox), ``bare`` (empty
workflow). ``--with NAME:VAR=VALUE[,VAR=VALUE...]`` adds a variant of the design with extra
settings, e.g. ``--with passthrough:ORDERFLOW_WORKER__SANDBOX=passthrough``.

Machine noise: compare ratios within one run, and CPU per order (steadier than wall time).
Example::

    source .orderflow/dev.env
    .venv/bin/python -m benchmarks.pipeline --orders 2000 --json > pipeline.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks.pipeline_variant import Setup, Variant, VariantResult, run_variant
from benchmarks.procstat import Measured, command_line, listening_pid, scrub_paths
from config.database import engine_from
from config.kafka import common_options, consumer_options, producer_options
from config.settings import DATABASE, KAFKA, TEMPORAL, Settings, load_settings
from config.telemetry import configure_logging
from config.temporal import temporal_client
from loadgen.orders import OrderMix

VARIANTS = {
    "design": Variant("design", "the design (as configured)"),
    # The design of release 0.1.0, before the CPU levers: one local activity per step, the
    # sandbox on with the pure-data modules passed through.
    "before": Variant(
        "before",
        "release 0.1.0's design: a local activity per step, sandbox on",
        env={
            "ORDERFLOW_WORKFLOW__OPEN_IN_ONE_STEP": "false",
            "ORDERFLOW_WORKER__SANDBOX": "listed",
        },
    ),
    "naive": Variant(
        "naive",
        "naive: a regular activity per step, default sandbox",
        env={
            "ORDERFLOW_WORKFLOW__LOCAL_ACTIVITIES": "false",
            "ORDERFLOW_WORKFLOW__OPEN_IN_ONE_STEP": "false",
            "ORDERFLOW_WORKER__SANDBOX": "default",
        },
    ),
    "bare": Variant("bare", "bare ceiling: empty workflow", workflow="empty"),
}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def targets(
    design: VariantResult, naive: VariantResult | None, bare: VariantResult | None
) -> dict[str, bool]:
    """Issue 11's targets for the design, checked in every run's output."""
    cpu = design.cpu_ms_per_order
    return {
        "worker CPU <= 5 ms/order": cpu.get("worker", float("inf")) <= 5,
        "bridge CPU <= 1 ms/order": cpu.get("bridge", float("inf")) <= 1,
        ">= 2.5x naive throughput": naive is not None
        and design.orders_per_s >= 2.5 * naive.orders_per_s,
        ">= 80 % of bare ceiling": bare is not None
        and design.orders_per_s >= 0.8 * bare.orders_per_s,
        "<= 3 state transitions": (design.state_transitions or float("inf")) <= 3,
    }


def services(settings: Settings) -> list[Measured]:
    """Temporal, PostgreSQL and the broker, where they listen on this machine."""
    temporal = settings.temporal.address or ""
    broker = (settings.kafka.bootstrap_servers or "").split(",")[0]
    url = make_url(settings.database.url.get_secret_value()) if settings.database.url else None
    found = []
    for name, host, port in (
        ("temporal", *temporal.rsplit(":", 1)),
        ("postgres", url.host if url else "", str(url.port or 5432) if url else "0"),
        ("broker", *broker.rsplit(":", 1)),
    ):
        pid = listening_pid(int(port)) if host in LOCAL_HOSTS and port.isdigit() else None
        if pid is None:
            print(
                f"note: {name} ({host}:{port}) is not a process here: not measured", file=sys.stderr
            )
        else:
            found.append(Measured(name, pid))
    return found


def _program(pid: int) -> str:
    """The program's name and arguments, without the machine's paths."""
    return scrub_paths(command_line(pid))[:200]


def parse_with(values: list[str]) -> list[Variant]:
    variants = []
    for value in values:
        name, _, assignments = value.partition(":")
        env = dict(item.split("=", 1) for item in assignments.split(",") if "=" in item)
        if not name or not env:
            raise SystemExit(f"--with {value!r}: use NAME:VAR=VALUE[,VAR=VALUE...]")
        variants.append(Variant(name, f"design with {assignments}", env=env))
    return variants


def table(results: list[VariantResult]) -> str:
    procs = ["worker", "bridge", "temporal", "postgres", "broker", "total"]
    head = f"{'variant':<10} {'orders/s':>8} {'p50':>6} {'p95':>6} {'p99':>6} |"
    head += (
        "".join(f" {p[:8]:>8}" for p in procs) + f" | {'trans.':>6} {'events':>6} {'actions':>7}"
    )
    width = 9 * len(procs)
    rows = [
        head,
        f"{'':<19} {'Kafka->Open ms':>20} | {'CPU ms per order, net of idle':^{width}} | per order",
    ]
    for r in results:
        lat = "".join(f" {r.latency_ms[k] or 0:>6.0f}" for k in ("p50", "p95", "p99"))
        cpu = "".join(f" {r.cpu_ms_per_order.get(p, float('nan')):>8.2f}" for p in procs)
        rows.append(
            f"{r.name:<10} {r.orders_per_s:>8.1f}{lat} |{cpu} | "
            f"{r.state_transitions or 0:>6.1f} {r.history_events or 0:>6.1f} {r.actions or 0:>7.1f}"
        )
    return "\n".join(rows)


def phase_lines(results: list[VariantResult]) -> list[str]:
    """One line per variant and later phase: CPU per unit, actions, history events and bytes."""
    lines = []
    for r in results:
        for label, phase, cpu_key in (
            ("status change", r.status_change, "cpu_ms_per_change"),
            ("invalid order", r.invalid, "cpu_ms_per_order"),
        ):
            if phase:
                cpu = ", ".join(f"{k} {v:.2f}" for k, v in phase[cpu_key].items())
                lines.append(
                    f"{r.name} {label}: CPU ms {cpu}; actions {phase['actions']}, "
                    f"events {phase['history_events']}, history bytes {phase['history_bytes']}"
                )
    return lines


def ratios(results: list[VariantResult]) -> dict[str, object]:
    by = {r.name: r for r in results}
    design, naive, bare = by.get("design"), by.get("naive"), by.get("bare")
    out: dict[str, object] = {}
    if design and naive:
        out["design / naive throughput"] = round(design.orders_per_s / naive.orders_per_s, 2)
    if design and bare:
        out["design / bare throughput"] = round(design.orders_per_s / bare.orders_per_s, 2)
    if design:
        out["targets"] = targets(design, naive, bare)
    return out


async def main(args: argparse.Namespace, log_dir: Path) -> int:
    settings = load_settings(DATABASE, KAFKA, TEMPORAL)
    configure_logging(settings.telemetry.model_copy(update={"log_level": "WARNING"}))
    chosen = [VARIANTS[name] for name in args.variants] + parse_with(args.with_)
    kafka = settings.kafka
    setup = Setup(
        client=await temporal_client(settings.temporal, settings.codec),
        kafka={
            "producer": producer_options(kafka),
            "consumer": consumer_options(kafka, group_id="orderflow-benchmark"),
            "admin": common_options(kafka),
        },
        services=services(settings),
        partitions=kafka.partitions,
        mix=OrderMix(lines_min=args.lines, lines_max=args.lines, locations=args.locations),
        orders=args.orders,
        warmup=args.warmup,
        sample=args.sample,
        timeout_s=args.timeout,
        idle_s=args.idle,
        log_dir=log_dir,
        run=secrets.token_hex(3),
        engine=engine_from(settings.database, application_name="orderflow-benchmark", pool_size=1),
        status_changes=args.status_changes,
        invalid=args.invalid,
        api_token=settings.api.token.get_secret_value() if settings.api.token else None,
        profile_dir=Path(args.profile) if args.profile else None,
    )
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    say(f"run {setup.run}: {args.orders} orders x {len(chosen)} variants; logs in {log_dir}")
    for service in setup.services:
        say(f"  {service.name:<9} pid {service.pid}: {command_line(service.pid)[:90]}")
    results = []
    for variant in chosen:
        say(f"{variant.name}: {variant.title} …")
        results.append(await run_variant(variant, setup))
        say(f"  {results[-1].orders_per_s} orders/s, CPU ms/order {results[-1].cpu_ms_per_order}")
    summary = ratios(results)
    if args.json:
        print(
            json.dumps(
                {
                    "command": scrub_paths(
                        " ".join(["python -m benchmarks.pipeline", *sys.argv[1:]])
                    ),
                    "cpus": os.cpu_count(),
                    "run": setup.run,
                    "orders": args.orders,
                    "warmup": args.warmup,
                    "lines": args.lines,
                    "partitions": setup.partitions,
                    "services": {s.name: _program(s.pid) for s in setup.services},
                    "variants": [asdict(r) for r in results],
                    **summary,
                },
                indent=2,
            )
        )
    else:
        print()
        print(table(results))
        print("\n".join(phase_lines(results)))
        print()
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=2000, help="measured orders per variant")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured orders first")
    parser.add_argument("--lines", type=int, default=3, help="lines per order")
    parser.add_argument("--locations", type=int, default=50, help="ship-from locations (keys)")
    parser.add_argument(
        "--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), help="in order"
    )
    parser.add_argument(
        "--with",
        dest="with_",
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE,…",
        help="an extra variant: the design with these settings (repeatable)",
    )
    parser.add_argument(
        "--status-changes",
        type=int,
        default=1000,
        help="then this many of the measured orders Open -> Allocated through the API (0: none)",
    )
    parser.add_argument(
        "--invalid",
        type=int,
        default=200,
        help="then a burst of this many invalid orders (0: none)",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy the worker and bridge during the new orders"
    )
    parser.add_argument("--sample", type=int, default=50, help="orders whose history is read")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per burst at most")
    parser.add_argument(
        "--idle", type=float, default=15, help="seconds of idle CPU measured per variant (0: none)"
    )
    parser.add_argument("--logs", help="folder for the variants' process logs (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    logs = Path(arguments.logs or tempfile.mkdtemp(prefix="orderflow-pipeline-"))
    logs.mkdir(parents=True, exist_ok=True)
    code = asyncio.run(main(arguments, logs))
    # The Temporal client has no close(); at interpreter exit its core threads can abort the
    # process (temporalio sdk-python issue 300, seen here). The results are printed: leave now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
