"""The bare ceiling's workflow: accepts an order's input and completes at once.

Kept in a module of its own that imports nothing but temporalio and the contracts, so a worker
loads it cheaply (the benchmark runs it without a sandbox: the ceiling measures Temporal and
the bridge, not workflow code).
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from contracts.workflow_io import OrderWorkflowInput

EMPTY_WORKFLOW_TYPE = "BenchEmptyWorkflow"


@workflow.defn(name=EMPTY_WORKFLOW_TYPE)
class EmptyWorkflow:
    @workflow.run
    async def run(self, order: OrderWorkflowInput) -> None:
        return None
