"""The replay of every released version's histories catches a non-deterministic change.

The worked example of ``docs/operations/workflow-changes.md``: in a throw-away copy of the
repository, ``OrderWorkflow`` gets a new step (a one-second timer before validation).

* Added as is, the committed histories no longer replay: the replay test fails, as it would in
  CI, and the change must not ship (running orders would break on the new workers).
* Added behind ``workflow.patched(...)``, the old histories replay (the patch marker is absent
  from them, so old orders skip the step) while new orders take it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ANCHOR = "        outcome = await self._calls.validate(\n"
UNGUARDED = "        await workflow.sleep(timedelta(seconds=1))\n"
PATCHED = (
    '        if workflow.patched("wait-before-validate"):\n'
    "            await workflow.sleep(timedelta(seconds=1))\n"
)


def _copy_of_the_repository(destination: Path) -> Path:
    """The tracked files (what a clean clone has), without virtualenvs or state."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def _replay_with(change: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Apply ``change`` to the copy's workflow and run its replay test."""
    copy = _copy_of_the_repository(tmp_path / "repo")
    workflow = copy / "workflows" / "order.py"
    source = workflow.read_text()
    assert source.count(ANCHOR) == 1, "the example's anchor moved: update this test"
    workflow.write_text(source.replace(ANCHOR, change + ANCHOR))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/unit/test_workflow_replay.py",
            "-k",
            "committed_history",
        ],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("change", "replays"),
    [(UNGUARDED, False), (PATCHED, True)],
    ids=["new step as is: CI fails", "new step behind workflow.patched: CI passes"],
)
def test_a_workflow_change_must_replay_every_release(
    change: str, replays: bool, tmp_path: Path
) -> None:
    result = _replay_with(change, tmp_path)
    output = result.stdout + result.stderr
    assert "passed" in output or "failed" in output, output  # the replay test really ran
    assert (result.returncode == 0) is replays, output
    if not replays:
        assert "Nondeterminism" in output or "nondeterminism" in output, output
