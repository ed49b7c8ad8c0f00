"""The container image, checked without a container engine: hadolint, the Dockerfile's promises,
the build context, and the HEALTHCHECK script run for real against local HTTP servers."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.tools import REPO_ROOT, tool

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
HEALTHCHECK = REPO_ROOT / "scripts" / "deploy" / "healthcheck.py"


def _load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orderflow_image_healthcheck", HEALTHCHECK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load_healthcheck()


def _stages(text: str) -> dict[str, str]:
    """Dockerfile text per ``FROM … AS name`` stage."""
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", text, flags=re.M | re.I)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_with_a_lean_non_root_runtime(dockerfile: str) -> None:
    stages = _stages(dockerfile)
    assert list(stages) == ["build", "runtime"]
    runtime = stages["runtime"]
    # Installs happen in the build stage only; the runtime copies the finished venv.
    assert "pip install" not in runtime
    assert "apt-get" not in runtime
    assert "COPY --from=build /opt/orderflow /opt/orderflow" in runtime
    user = re.search(r"^USER\s+(\S+)", runtime, re.M)
    assert user is not None
    assert not user[1].startswith(("0", "root"))
    assert re.search(r'^ENTRYPOINT \["orderflow"\]$', runtime, re.M)
    assert re.search(r'^CMD \["api"\]$', runtime, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*healthcheck\.py", runtime, re.M)


def test_runtime_environment(dockerfile: str) -> None:
    runtime = _stages(dockerfile)["runtime"]
    for setting in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "ORDERFLOW_TELEMETRY__LOG_FORMAT=json",
        "ORDERFLOW_WORKER__BUILD_ID=${BUILD_ID}",
    ):
        assert setting in runtime, setting
    assert re.search(r"^ARG BUILD_ID$", runtime, re.M), "BUILD_ID must have no default"
    for label in ("title", "version", "revision", "created", "source"):
        assert f"org.opencontainers.image.{label}=" in runtime, label


def test_installs_only_from_the_locks_with_hashes(dockerfile: str) -> None:
    build = _stages(dockerfile)["build"]
    installs = re.findall(r"pip(?: --python \S+)? install ([^&]*)", build)
    assert installs, "no pip install in the build stage"
    for args in installs:
        assert "--no-deps" in args, args
        if "-r " in args:
            assert "--require-hashes" in args, args
            assert "--only-binary=:all:" in args, args
    assert "-r requirements/runtime.lock" in build
    assert "--no-build-isolation" in build  # the locked hatchling builds the wheel


def test_base_image_python_matches_the_lock(dockerfile: str) -> None:
    base = re.search(r"^ARG PYTHON_IMAGE=python:(\d+)\.(\d+)\.\d+-slim-\w+@", dockerfile, re.M)
    assert base is not None, "base image pinned by full version tag"
    lock_script = (REPO_ROOT / "scripts" / "lock.sh").read_text(encoding="utf-8")
    locked = re.search(r"^PYTHON_VERSION=(\d+)\.(\d+)$", lock_script, re.M)
    assert locked is not None
    assert base.groups() == locked.groups()


def test_every_base_image_is_pinned_by_digest(dockerfile: str) -> None:
    """A tag can be moved; a digest names the same bytes on every build."""
    runner = (REPO_ROOT / "infra" / "runner" / "Dockerfile").read_text(encoding="utf-8")
    pinned = re.compile(r"^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$")
    (python_image,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.M)
    assert pinned.match(python_image), python_image
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["${PYTHON_IMAGE}"] * 2
    (runner_base,) = re.findall(r"^FROM (\S+)$", runner, re.M)
    assert pinned.match(runner_base), runner_base
    guide = (REPO_ROOT / "docs" / "operations" / "deployment.md").read_text(encoding="utf-8")
    assert python_image.split("@")[1] in guide, "the refresh section names the current digest"


def test_the_runner_image_passes_hadolint() -> None:
    result = subprocess.run(
        [
            tool("hadolint"),
            "--failure-threshold",
            "info",
            str(REPO_ROOT / "infra/runner/Dockerfile"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _copy_sources(dockerfile: str) -> list[str]:
    sources: list[str] = []
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(part.rstrip("/") for part in line.split()[1:-1])
    return sources


def test_build_context_allows_exactly_what_the_dockerfile_copies(dockerfile: str) -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: ignore everything, then re-include"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set(_copy_sources(dockerfile))
    assert copied == allowed
    for source in copied:
        assert (REPO_ROOT / source).exists(), source
    assert "**/.env" in lines


def test_every_wheel_package_is_copied(dockerfile: str) -> None:
    import tomllib

    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        packages = tomllib.load(handle)["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = set(_copy_sources(dockerfile))
    assert set(packages) <= copied
    # A new top-level package must reach the build context too (the wheel list is checked by
    # scripts/image-check.sh against what the code imports).
    sources = {p.name for p in REPO_ROOT.iterdir() if (p / "__init__.py").exists()}
    assert sources - {"tests", "benchmarks"} <= copied


# --------------------------------------------------------------------------- HEALTHCHECK script


def _fake_proc(root: Path, processes: dict[int, list[str]]) -> Path:
    for pid, argv in processes.items():
        (root / str(pid)).mkdir(parents=True)
        (root / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (root / "self").mkdir()
    return root


@pytest.mark.parametrize(
    ("processes", "expected"),
    [
        ({1: ["/opt/orderflow/bin/python", "/opt/orderflow/bin/orderflow", "worker"]}, "worker"),
        ({1: ["/sbin/docker-init", "--", "orderflow", "bridge"], 7: ["sleep"]}, "bridge"),
        (
            {1: ["/sbin/docker-init", "--", "sh"], 9: ["python", "/x/orderflow", "codec-server"]},
            "codec-server",
        ),
        ({1: ["sh"]}, None),
    ],
)
def test_running_command_is_found_in_proc(
    tmp_path: Path, processes: dict[int, list[str]], expected: str | None
) -> None:
    assert healthcheck.running_command(_fake_proc(tmp_path, processes)) == expected


def test_probe_port_per_command() -> None:
    assert healthcheck.probe_port("api", {}) == 8000
    assert healthcheck.probe_port("worker", {}) == 8081
    assert healthcheck.probe_port("bridge", {}) == 8082
    assert healthcheck.probe_port("codec-server", {}) == 8088
    assert healthcheck.probe_port("worker", {"ORDERFLOW_WORKER__HTTP_PORT": "9100"}) == 9100
    assert healthcheck.probe_port("setup", {}) is None
    assert healthcheck.probe_port(None, {}) is None
    assert healthcheck.probe_port("setup", {"ORDERFLOW_HEALTHCHECK_PORT": "7000"}) == 7000


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/health/live" else 404
        self.send_response(code)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(params=[200, 503], ids=["live", "stuck"])
def health_server(request: pytest.FixtureRequest) -> Iterator[tuple[int, int]]:
    handler = type("Handler", (_Health,), {"status": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], request.param
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_script_exit_code_follows_health_live(health_server: tuple[int, int]) -> None:
    port, status = health_server
    result = subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env={"ORDERFLOW_HEALTHCHECK_PORT": str(port), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == (0 if status == 200 else 1), result.stderr


def test_healthcheck_fails_when_nothing_listens() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Health) as server:
        port = server.server_address[1]
    # The server is closed: the port refuses connections.
    assert healthcheck.live(port, timeout_s=2) is False


# --------------------------------------------------------------------------- scripts/image-check.sh

# The image's process commands (its CMD choices).
IMAGE_CHECK_COMMANDS = ("worker", "bridge", "api", "setup")


@pytest.mark.integration
@pytest.mark.timeout(900)
def test_image_check_passes() -> None:
    """An install from the locks alone runs and refuses to start without configuration."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "image-check.sh"), *IMAGE_CHECK_COMMANDS],
        capture_output=True,
        text=True,
        check=False,
        timeout=880,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for command in IMAGE_CHECK_COMMANDS:
        assert f"ok: orderflow {command} -> exit 2" in result.stderr
