"""The workflow runner every worker and replayer of ``OrderWorkflow`` uses.

The sandbox stays on (it catches non-deterministic calls such as ``datetime.now()`` in workflow
code). Modules that are pure data and are imported on every run are passed through, so they
are loaded once per process instead of once per workflow run.
"""

from __future__ import annotations

from temporalio.worker import WorkflowRunner
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


def order_workflow_runner() -> WorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )
