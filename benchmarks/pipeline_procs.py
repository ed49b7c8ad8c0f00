"""The benchmark's own processes, each measured on its own PIDs by ``benchmarks/pipeline.py``.

``python -m benchmarks.pipeline_procs bridge``: the production bridge loop (``run_bridge``, same
settings, same probes) on a topic, consumer group and task queue of the benchmark's choosing,
so the stack's own bridge and worker never see the benchmark's records. ``--workflow order``
starts ``OrderWorkflow`` exactly like ``orderflow bridge`` (``start_order_workflow``) but on the
given task queue; ``--workflow empty`` starts the bare ceiling's empty workflow with the same
ID policies and input.

``python -m benchmarks.pipeline_procs bare-worker``: a worker running only the empty workflow,
unsandboxed. (The other variants run the real ``python -m orderflow worker``.)

Both serve ``/health/ready`` on ``--port`` and stop on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import functools

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from benchmarks.empty_workflow import EMPTY_WORKFLOW_TYPE, EmptyWorkflow
from bridges.handler import StartOrder
from bridges.starter import START_RPC_TIMEOUT
from config.settings import CODEC, KAFKA, TEMPORAL, Settings, load_settings
from config.telemetry import configure_logging
from config.temporal import temporal_client
from probes.checks import check_polling
from probes.server import ProbeServer
from workers.bridge_process import run_bridge_process
from workers.signals import stop_on_signals

PROBE_TIMEOUT_S = 2.0


async def start_empty(task_queue: str, client: Client, request: StartOrder) -> object:
    return await client.start_workflow(
        EMPTY_WORKFLOW_TYPE,
        request.input,
        id=request.workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        rpc_timeout=START_RPC_TIMEOUT,
    )


async def bridge(settings: Settings, args: argparse.Namespace) -> None:
    """The production bridge process on this variant's topic, group, task queue and port;
    ``--workflow empty`` starts the bare ceiling's empty workflow instead of an order."""
    settings = settings.model_copy(
        update={
            "bridge": settings.bridge.model_copy(
                update={
                    "topic": args.topic,
                    "group_id": args.group,
                    "http_host": "127.0.0.1",
                    "http_port": args.port,
                }
            ),
            "temporal": settings.temporal.model_copy(update={"task_queue": args.task_queue}),
        }
    )
    start = functools.partial(start_empty, args.task_queue) if args.workflow == "empty" else None
    await run_bridge_process(settings, tracer_provider=None, start=start)


async def bare_worker(settings: Settings, args: argparse.Namespace) -> None:
    stop = stop_on_signals()
    client = await temporal_client(settings.temporal, settings.codec)
    worker = Worker(
        client,
        task_queue=args.task_queue,
        workflows=[EmptyWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_concurrent_workflow_tasks=settings.worker.max_concurrent_workflow_tasks,
    )
    probes = ProbeServer(
        component="worker",
        checks={"temporal": lambda: check_polling(client, args.task_queue, PROBE_TIMEOUT_S)},
        timeout_s=PROBE_TIMEOUT_S,
    )
    async with probes.serving(host="127.0.0.1", port=args.port, stop=stop), worker:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("bridge", "bare-worker"):
        command = commands.add_parser(name)
        command.add_argument("--task-queue", required=True)
        command.add_argument("--port", type=int, required=True)
        if name == "bridge":
            command.add_argument("--topic", required=True)
            command.add_argument("--group", required=True)
            command.add_argument("--workflow", choices=("order", "empty"), default="order")
    args = parser.parse_args()
    settings = load_settings(KAFKA, TEMPORAL, CODEC)
    configure_logging(settings.telemetry)
    asyncio.run((bridge if args.command == "bridge" else bare_worker)(settings, args))


if __name__ == "__main__":
    main()
