"""A process with missing or bad settings exits 2 with one line naming the variable.

The real ``orderflow`` commands run as subprocesses with an empty environment (no ``ORDERFLOW_``
variable, a working directory without ``.env``), so nothing falls back to a local address.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Every command that needs a service, with the variables it must name when none is set.
REQUIRED = {
    ("worker",): [
        "ORDERFLOW_DATABASE__URL",
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS",
        "ORDERFLOW_TEMPORAL__ADDRESS",
        "ORDERFLOW_CODEC__KEYS",
    ],
    ("bridge",): [
        "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS",
        "ORDERFLOW_TEMPORAL__ADDRESS",
        "ORDERFLOW_CODEC__KEYS",
    ],
    ("api",): ["ORDERFLOW_DATABASE__URL", "ORDERFLOW_TEMPORAL__ADDRESS", "ORDERFLOW_CODEC__KEYS"],
    ("codec-server",): ["ORDERFLOW_CODEC__KEYS"],
    ("dlq", "list"): ["ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS"],
    ("dlq", "redrive", "--dry-run"): ["ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS"],
    ("db", "upgrade"): ["ORDERFLOW_DATABASE__URL"],
    ("db", "stats"): ["ORDERFLOW_DATABASE__URL"],
    ("topics", "create"): ["ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS"],
    ("topics", "list"): ["ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS"],
    ("produce", "-"): ["ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS"],
}

# Complete service settings, so the bad-value cases fail on exactly one variable.
SERVICES = {
    "ORDERFLOW_DATABASE__URL": "postgresql://app@db.invalid:5432/orders",
    "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": "broker.invalid:9092",
    "ORDERFLOW_TEMPORAL__ADDRESS": "temporal.invalid:7233",
    "ORDERFLOW_CODEC__KEYS": json.dumps({"k1": base64.b64encode(bytes(32)).decode()}),
}
# Key material that must never appear in an error line.
KEY_MATERIAL = base64.b64encode(b"k" * 31).decode()


def run_orderflow(
    args: tuple[str, ...], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``python -m orderflow ARGS`` with only ``env`` (plus what Python itself needs)."""
    base = {"PATH": os.environ["PATH"], "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "orderflow", *args],
        env={**base, **env},
        cwd=cwd,
        input="{}",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_naming(result: subprocess.CompletedProcess[str], *variables: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for variable in variables:
        assert variable in lines[0]


@pytest.mark.parametrize(("args", "variables"), list(REQUIRED.items()), ids=" ".join)
def test_a_missing_service_address_is_named(
    args: tuple[str, ...], variables: list[str], tmp_path: Path
) -> None:
    result = run_orderflow(args, {}, tmp_path)
    assert_one_line_naming(result, *variables)
    assert f"{variables[0]} is not set" in result.stderr


@pytest.mark.parametrize(
    ("args", "bad", "named"),
    [
        # TLS certificate without its key.
        (("worker",), {"ORDERFLOW_TEMPORAL__TLS_CLIENT_CERT": "cert.pem"}, "TLS_CLIENT_KEY"),
        # SASL without credentials; a mechanism without SASL.
        (("bridge",), {"ORDERFLOW_KAFKA__SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_USERNAME"),
        (("dlq", "list"), {"ORDERFLOW_KAFKA__SASL_MECHANISM": "PLAIN"}, "SECURITY_PROTOCOL"),
        # Unparseable addresses.
        (("api",), {"ORDERFLOW_DATABASE__URL": "postgresql//nowhere"}, "DATABASE__URL"),
        (("worker",), {"ORDERFLOW_TEMPORAL__ADDRESS": "temporal"}, "TEMPORAL__ADDRESS"),
        (("produce", "-"), {"ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS": "a:1,b"}, "BOOTSTRAP_SERVERS"),
        (("db", "stats"), {"ORDERFLOW_DATABASE__URL": "mysql://root@db/orders"}, "DATABASE__URL"),
        # The API or the codec server on a public interface without a token.
        (("api",), {"ORDERFLOW_API__HOST": "0.0.0.0"}, "ORDERFLOW_API__TOKEN"),
        (("codec-server",), {"ORDERFLOW_CODEC__HOST": "0.0.0.0"}, "ORDERFLOW_API__TOKEN"),
        # Bad keys: not JSON, not base64, not 32 bytes; an active key ID that is not a key.
        (("worker",), {"ORDERFLOW_CODEC__KEYS": "k1=" + KEY_MATERIAL}, "ORDERFLOW_CODEC__KEYS"),
        (("bridge",), {"ORDERFLOW_CODEC__KEYS": '{"k1": "%%%"}'}, "ORDERFLOW_CODEC__KEYS"),
        (("api",), {"ORDERFLOW_CODEC__KEYS": f'{{"k1": "{KEY_MATERIAL}"}}'}, "31 bytes"),
        (("codec-server",), {"ORDERFLOW_CODEC__ACTIVE_KEY_ID": "k9"}, "ACTIVE_KEY_ID"),
    ],
)
def test_a_bad_value_is_named(
    args: tuple[str, ...], bad: dict[str, str], named: str, tmp_path: Path
) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    result = run_orderflow(args, {**SERVICES, **bad}, tmp_path)
    assert_one_line_naming(result, named)
    assert KEY_MATERIAL not in result.stderr


def test_a_disabled_codec_needs_no_keys(tmp_path: Path) -> None:
    result = run_orderflow(("bridge",), {"ORDERFLOW_CODEC__ENABLED": "false"}, tmp_path)
    assert_one_line_naming(result, "ORDERFLOW_KAFKA__BOOTSTRAP_SERVERS")
    assert "CODEC" not in result.stderr


def test_the_codec_server_needs_keys_even_when_the_codec_is_disabled(tmp_path: Path) -> None:
    result = run_orderflow(("codec-server",), {"ORDERFLOW_CODEC__ENABLED": "false"}, tmp_path)
    assert_one_line_naming(result, "ORDERFLOW_CODEC__KEYS")


def test_help_needs_no_settings(tmp_path: Path) -> None:
    result = run_orderflow(("--help",), {}, tmp_path)
    assert result.returncode == 0
    assert "worker" in result.stdout


@pytest.mark.parametrize(("command", "group"), [("worker", "WORKER"), ("bridge", "BRIDGE")])
def test_a_taken_probe_port_fails_at_once_with_one_line(
    command: str, group: str, tmp_path: Path
) -> None:
    """The probe port is bound before anything is connected: a taken port is one line, exit 1
    (not a configuration error, so the local stack's supervisor may retry it)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {
            **SERVICES,
            "ORDERFLOW_CODEC__ENABLED": "false",
            f"ORDERFLOW_{group}__HTTP_HOST": "127.0.0.1",
            f"ORDERFLOW_{group}__HTTP_PORT": str(port),
        }
        result = run_orderflow((command,), env, tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"orderflow: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
