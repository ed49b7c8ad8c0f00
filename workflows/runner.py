"""The workflow runner every worker and replayer of ``OrderWorkflow`` uses.

The sandbox stays on (it catches non-deterministic calls such as ``datetime.now()`` in workflow
code). Modules that are pure data and are imported on every run are passed through, so they
are loaded once per process instead of once per workflow run.

``sandbox`` (``ORDERFLOW_WORKER__SANDBOX``) exists so the pipeline benchmark can measure the
alternatives on real worker processes: ``listed`` (the default, described above), ``default``
(the SDK's restrictions with nothing extra passed through: the naive design), ``passthrough``
(every module passed through) and ``off`` (no sandbox: determinism must then be checked some
other way, e.g. by replaying every path in CI).
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


def order_workflow_runner(sandbox: str = "listed") -> WorkflowRunner:
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
