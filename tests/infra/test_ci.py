"""The GitHub workflows: actionlint on every file, and the promises the pipeline makes (pinned
actions, OIDC only, gated environments, build once, rollback by hand)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.tools import REPO_ROOT, actionlint_argv

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTIONS = REPO_ROOT / ".github" / "actions"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))


def _load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def _steps(document: dict[Any, Any]) -> list[dict[str, Any]]:
    jobs = document.get("jobs") or {}
    steps = [step for job in jobs.values() for step in job.get("steps", [])]
    return steps + list(document.get("runs", {}).get("steps", []))


def test_actionlint_passes() -> None:
    assert WORKFLOW_FILES, "no workflows"
    result = subprocess.run(
        [*actionlint_argv(), *map(str, WORKFLOW_FILES)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "path",
    [*WORKFLOW_FILES, *sorted(ACTIONS.glob("*/action.yml"))],
    ids=lambda path: path.name if path.parent == WORKFLOWS else path.parent.name,
)
def test_third_party_actions_are_pinned_by_commit(path: Path) -> None:
    for step in _steps(_load(path)):
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{path.name}: {uses}"
    text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.search(r"uses: [^.].*@[0-9a-f]{40}", line):
            assert re.search(r"# v\d", line), f"{path.name}: say which tag the SHA is: {line}"


def test_ci_runs_tests_audit_secret_scan_and_hadolint() -> None:
    ci = _load(WORKFLOWS / "ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    runs = " ".join(step.get("run", "") for step in _steps(ci))
    assert "scripts/test.sh" in runs
    assert re.search(r"pip-audit .*--require-hashes", runs)
    assert "-r requirements/runtime.lock" in runs
    assert "hadolint" in runs
    assert any("gitleaks/gitleaks-action@" in step.get("uses", "") for step in _steps(ci))


def test_deploy_runs_only_for_a_commit_whose_ci_passed() -> None:
    """Not on the push itself: when ci.yml completed on main, successfully, for a push to this
    repository; and everything it builds and deploys is the commit CI tested."""
    deploy = _load(WORKFLOWS / "deploy.yml")
    assert deploy["on"] == {
        "workflow_run": {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    }
    assert _load(WORKFLOWS / "ci.yml")["name"] == "ci"
    condition = deploy["jobs"]["build"]["if"]
    for clause in (
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
    ):
        assert clause in condition
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert "github.sha" not in text  # the newest main, not the commit CI tested
    checkout = deploy["jobs"]["build"]["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.workflow_run.head_sha }}"


def test_deploy_builds_once_and_promotes_one_digest() -> None:
    deploy = _load(WORKFLOWS / "deploy.yml")
    jobs = deploy["jobs"]
    builds = [s for s in _steps(deploy) if "docker/build-push-action@" in s.get("uses", "")]
    assert len(builds) == 1
    assert any("aquasecurity/trivy-action@" in s.get("uses", "") for s in jobs["build"]["steps"])
    scan = next(s for s in jobs["build"]["steps"] if "trivy" in s.get("uses", ""))
    assert scan["with"]["severity"] == "HIGH,CRITICAL"
    assert scan["with"]["exit-code"] == "1"
    assert scan["with"]["ignore-unfixed"] is True
    order = [name for name in jobs if name != "build"]
    assert order == ["dev", "staging", "prod"]
    for previous, name in zip(["build", *order], order, strict=False):
        job = jobs[name]
        assert job["uses"] == "./.github/workflows/deploy-environment.yml"
        assert job["with"] == {
            "environment": name,
            "image": "${{ needs.build.outputs.image }}",
            "build-id": "${{ needs.build.outputs.build-id }}",
        }
        assert previous in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"])


def test_every_azure_login_is_oidc() -> None:
    for path in WORKFLOW_FILES:
        document = _load(path)
        for job in document["jobs"].values():
            logins = [s for s in job.get("steps", []) if "azure/login@" in s.get("uses", "")]
            for login in logins:
                assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}
            if logins or "uses" in job:
                assert job["permissions"]["id-token"] == "write", path.name
    text = " ".join(path.read_text() for path in WORKFLOW_FILES)
    assert "creds:" not in text  # no service-principal secret JSON


def test_environment_jobs_are_gated_and_serialised() -> None:
    for name in ("deploy-environment.yml", "rollback.yml"):
        job = next(iter(_load(WORKFLOWS / name)["jobs"].values()))
        assert job["environment"] == "${{ inputs.environment }}"
        assert job["concurrency"] == {
            "group": "deploy-${{ inputs.environment }}",
            "cancel-in-progress": False,
        }


def test_rollback_is_manual_per_environment() -> None:
    rollback = _load(WORKFLOWS / "rollback.yml")
    dispatch = rollback["on"]["workflow_dispatch"]["inputs"]["environment"]
    assert dispatch["type"] == "choice"
    assert dispatch["options"] == ["dev", "staging", "prod"]
    runs = " ".join(step.get("run", "") for step in _steps(rollback))
    assert 'scripts/deploy/rollback.sh "$ENVIRONMENT"' in runs


def test_workflow_inputs_reach_scripts_through_the_environment() -> None:
    """No ${{ }} inside run: blocks (script injection); values travel as env variables."""
    for path in [*WORKFLOW_FILES, *sorted(ACTIONS.glob("*/action.yml"))]:
        for step in _steps(_load(path)):
            assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"
