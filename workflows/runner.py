"""The workflow runner every worker and replayer of ``OrderWorkflow`` uses.

Workers run the workflow **without the sandbox** (``off``, the default): the sandbox re-creates
the workflow's module world for every run, which was the largest share of a worker's CPU per
order (docs/decisions/0009-workflow-sandbox-off.md). Determinism is checked another way, in CI:

* every committed history of every release replays with the production runner *and* with the
  SDK's default sandbox (``tests/unit/test_workflow_replay.py``), so a restricted call on any
  recorded path fails the suite;
* a lint of the workflow package (``tests/unit/test_workflow_determinism.py``) refuses imports of
  I/O libraries and calls of clocks, randomness and sleeps outside ``workflow.*``.

The other modes remain for benchmarks and that replay: ``listed`` (sandbox, with the pure-data
modules of :data:`PASSTHROUGH_MODULES` loaded once per process), ``default`` (the SDK's
restrictions: the naive design) and ``passthrough`` (sandbox, every module passed through).
"""

from __future__ import annotations

from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

PASSTHROUGH_MODULES: tuple[str, ...] = (
    "contracts",
    "activities",
    "pydantic",
    "pydantic_core",
    "pydantic_extra_types",
    "annotated_types",
    "typing_inspection",
    "pycountry",
)

SANDBOX_MODES: tuple[str, ...] = ("listed", "default", "passthrough", "off")


def order_workflow_runner(sandbox: str = "off") -> WorkflowRunner:
    """The runner for ``sandbox`` (one of :data:`SANDBOX_MODES`)."""
    default = SandboxRestrictions.default
    if sandbox == "off":
        return UnsandboxedWorkflowRunner()
    if sandbox == "listed":
        restrictions = default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    elif sandbox == "default":
        restrictions = default
    elif sandbox == "passthrough":
        restrictions = default.with_passthrough_all_modules()
    else:
        raise ValueError(f"unknown sandbox mode {sandbox!r}; one of {', '.join(SANDBOX_MODES)}")
    return SandboxedWorkflowRunner(restrictions=restrictions)
