"""A lint of the workflow package: the determinism checks the sandbox would make, made statically.

Workers run ``OrderWorkflow`` without the sandbox (docs/decisions/0009). Workflow code must
therefore never import I/O or nondeterministic libraries, nor read clocks, randomness or sleep
outside ``workflow.*`` (``workflow.now()``, ``workflow.uuid4()``, ``workflow.sleep()``,
``workflow.random()``). This test parses every module of ``workflows/`` (the runner, which is
worker-side wiring, excepted) and fails naming the offending line. The committed histories are
also replayed inside the SDK's sandbox (``test_workflow_replay.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
# Worker-side wiring, not workflow code.
NOT_WORKFLOW_CODE = {"runner.py", "__init__.py"}

# What workflow code may import: the SDK, pure stdlib, the contracts, the activities' data and
# names (never their implementations), and itself.
ALLOWED_IMPORTS = (
    "__future__",
    "asyncio",
    "collections",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "logging",
    "typing",
    "temporalio",
    "contracts",
    "activities.models",
    "activities.names",
    "activities.metrics",
    "workflows",
)
# Calls that read the outside world; the workflow.* equivalents are deterministic.
FORBIDDEN_CALLS = {
    ("datetime", "now"): "workflow.now()",
    ("datetime", "utcnow"): "workflow.now()",
    ("date", "today"): "workflow.now().date()",
    ("time", "time"): "workflow.time()",
    ("time", "monotonic"): "workflow.time()",
    ("uuid", "uuid4"): "workflow.uuid4()",
    ("asyncio", "sleep"): "workflow.sleep()",
    ("random", "random"): "workflow.random()",
}
FORBIDDEN_NAMES = {"open", "input", "print", "eval", "exec"}


def _modules() -> list[Path]:
    return sorted(p for p in WORKFLOWS.glob("*.py") if p.name not in NOT_WORKFLOW_CODE)


def _allowed(module: str) -> bool:
    return any(module == root or module.startswith(f"{root}.") for root in ALLOWED_IMPORTS)


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where} imports {a.name}" for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from activities import names`` imports the module activities.names.
            found += [
                f"{where} imports {node.module}.{a.name}"
                for a in node.names
                if not (_allowed(node.module) or _allowed(f"{node.module}.{a.name}"))
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                instead = FORBIDDEN_CALLS.get((func.value.id, func.attr))
                if instead is not None:
                    found.append(f"{where} calls {func.value.id}.{func.attr}(); use {instead}")
            elif isinstance(func, ast.Name) and func.id in FORBIDDEN_NAMES:
                found.append(f"{where} calls {func.id}()")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_workflow_code_stays_deterministic(path: Path) -> None:
    assert _problems(path) == []


def test_the_lint_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import random\nfrom datetime import datetime\nfrom db.engine import create_engine\n"
        "def f():\n    return datetime.now(), open('x')\n"
    )
    problems = _problems(bad)
    assert any("imports random" in p for p in problems)
    assert any("imports db.engine" in p for p in problems)
    assert any("datetime.now()" in p for p in problems)
    assert any("calls open()" in p for p in problems)
