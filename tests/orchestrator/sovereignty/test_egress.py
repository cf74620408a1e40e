"""The egress guard as the stack's processes get it (through sitecustomize on PYTHONPATH), in
a separate Python process: a connection out is refused before any packet leaves and recorded;
loopback and the configured internal hosts are not touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.settings import Settings
from orchestrator.stack import BOOT_DIR, install_for_stack

CONNECT = """
import socket, sys
from orchestrator.sovereignty import egress
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(0.5)
try:
    s.connect((host, port))
    print("connected")
except egress.EgressRefused:
    print("refused by the guard")
except OSError as exc:
    print("network said: " + type(exc).__name__)
"""

HTTPX = """
import httpx
try:
    httpx.get("http://192.0.2.1:8080/telemetry", timeout=1)
except httpx.ConnectError as exc:
    print("httpx: " + str(exc))
"""


def _run(code: str, tmp_path: Path, *args: str, **env: str) -> str:
    environment = {
        **os.environ,
        "PYTHONPATH": str(BOOT_DIR),
        "IDARA_DATA_DIR": str(tmp_path),
        **env,
    }
    if "IDARA_INTERNAL_HOSTS" not in env:
        environment.pop("IDARA_INTERNAL_HOSTS", None)
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _attempts(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "egress-attempts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_connection_out_is_refused_and_recorded(tmp_path: Path) -> None:
    assert _run(CONNECT, tmp_path, "192.0.2.1", "443") == "refused by the guard"
    (attempt,) = _attempts(tmp_path)
    assert attempt["target"] == "192.0.2.1:443"
    assert attempt["pid"] and "-c" in str(attempt["process"])


def test_a_client_library_is_refused_too(tmp_path: Path) -> None:
    assert "idara egress guard" in _run(HTTPX, tmp_path)
    assert [a["target"] for a in _attempts(tmp_path)] == ["192.0.2.1:8080"]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_is_allowed(tmp_path: Path, host: str) -> None:
    family_code = (
        CONNECT.replace("socket.AF_INET,", "socket.AF_INET6,") if host == "::1" else CONNECT
    )
    answer = _run(family_code, tmp_path, host, "9")
    assert answer != "refused by the guard"
    assert _attempts(tmp_path) == []


def test_an_internal_host_is_allowed(tmp_path: Path) -> None:
    answer = _run(CONNECT, tmp_path, "192.0.2.7", "9", IDARA_INTERNAL_HOSTS="192.0.2.7")
    assert answer != "refused by the guard"
    assert _attempts(tmp_path) == []


def test_the_guard_can_be_switched_off(tmp_path: Path) -> None:
    code = "from orchestrator.sovereignty import egress; print(egress.is_installed())"
    assert _run(code, tmp_path, IDARA_EGRESS_GUARD="false") == "False"
    assert _run(code, tmp_path) == "True"


def _check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "IDARA_DATA_DIR": str(tmp_path), "COLUMNS": "200", **env}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "sovereignty", "check"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_check_passes_on_the_defaults(tmp_path: Path) -> None:
    install_for_stack(Settings(data_dir=tmp_path))  # the signed catalogue `idara up` makes
    done = _check(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    for line in ("PASS egress guard", "PASS endpoint: broker", "PASS model smollm2-135m"):
        assert line in done.stdout
    assert "PASS models: manifest signature" in done.stdout


def test_the_check_fails_on_an_outside_endpoint_or_a_recorded_attempt(tmp_path: Path) -> None:
    outside = _check(tmp_path, IDARA_REDIS_URL="redis://192.0.2.1:6379/0")
    assert outside.returncode == 1
    assert "FAIL endpoint: broker (Redis): 192.0.2.1 is neither loopback" in outside.stdout
    _run(CONNECT, tmp_path, "192.0.2.1", "443")
    recorded = _check(tmp_path)
    assert recorded.returncode == 1
    assert "FAIL egress attempts: 1 recorded" in recorded.stdout
