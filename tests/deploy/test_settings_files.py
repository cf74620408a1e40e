"""What every deploy file sets: telemetry off as orchestrator/telemetry.py says, only real
IDARA_ settings, and example settings that idara refuses until ops put real secrets in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from orchestrator import telemetry
from orchestrator.engine import prefect_services
from orchestrator.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SYSTEMD = DEPLOY / "systemd"
DEPLOY_ONLY = {"IDARA_NODE_MODELS", "IDARA_NODE_CONCURRENCY"}
"""Variables the units pass to `idara node start --models/--concurrency`, not settings."""


def env_lines(path: Path) -> dict[str, str]:
    """KEY=value lines, commented-out examples (`# IDARA_X=…`) included."""
    found = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", raw.strip())
        if match:
            found[match[1]] = match[2].strip('"')
    return found


def dockerfile_env() -> dict[str, str]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    (env_line,) = [line for line in text.splitlines() if line.startswith("ENV ")]
    return dict(item.split("=", 1) for item in env_line[4:].split())


def test_systemd_defaults_turn_telemetry_off() -> None:
    defaults = env_lines(SYSTEMD / "idara-defaults.env")
    assert {k: defaults.get(k) for k in telemetry.OFF} == telemetry.OFF
    assert defaults["PYTHONPATH"] == "/opt/idara/orchestrator/sovereignty/boot"
    assert (Path(__file__).resolve().parents[2] / "orchestrator/sovereignty/boot").is_dir()


def test_image_turns_telemetry_off_and_loads_the_guard() -> None:
    env = dockerfile_env()
    assert {k: env.get(k) for k in telemetry.OFF} == telemetry.OFF
    assert env["PYTHONPATH"] == "/opt/idara/orchestrator/sovereignty/boot"


def test_dockerfile_installs_offline() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install[^;]*", text.replace("\\\n", " "))
    assert installs and all("--no-index" in line for line in installs)
    assert not re.search(r"^# *syntax=", text, re.M)  # BuildKit would fetch a frontend image
    assert re.search(r"^FROM \$\{BASE_IMAGE\}", text, re.M)


def test_compose_telemetry_block() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    assert compose["x-telemetry"] == telemetry.OFF


def test_every_prefect_server_runs_only_the_task_run_recorder() -> None:
    """Each case run is a task run that reaches Prefect as events: a server started with
    --no-services, or without these variables, would not record it (or would run services
    idara does not use)."""
    unit = (SYSTEMD / "idara-prefect.service").read_text(encoding="utf-8")
    unit_env = dict(re.findall(r"^Environment=(\w+)=(\S*)$", unit, re.M))
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    compose_env = {k: str(v) for k, v in compose["services"]["prefect"]["environment"].items()}
    helm = (DEPLOY / "helm/idara/templates/prefect.yaml").read_text(encoding="utf-8")
    helm_env = dict(re.findall(r"- name: (PREFECT_SERVER_SERVICES_\w+)\n\s+value: \"(\w+)\"", helm))
    for source, env in (("systemd", unit_env), ("compose", compose_env), ("helm", helm_env)):
        assert {k: env.get(k) for k in prefect_services.ENV} == prefect_services.ENV, source
    assert "--no-services" not in unit + helm + str(compose["services"]["prefect"]["command"])
    assert prefect_services.ENV["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED"] == "true"


def _idara_variables() -> dict[str, set[str]]:
    """Each IDARA_ variable a deploy file gives a process, and the files that do."""
    where: dict[str, set[str]] = {}

    def add(names: object, source: str) -> None:
        for name in names:  # type: ignore[attr-defined]
            if str(name).startswith("IDARA_"):
                where.setdefault(str(name), set()).add(source)

    for path in SYSTEMD.iterdir():
        if path.suffix in {".env", ".example"} and path.name != "redis.site.conf.example":
            add(env_lines(path), path.name)
        if path.suffix == ".service":
            units = re.findall(r"^Environment=(\w+)=", path.read_text(), re.M)
            add(units, path.name)
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    for name, service in compose["services"].items():
        if name == "postgres":  # PostgreSQL's own container, not an idara process
            continue
        environment = service.get("environment", {})
        add({k for k in environment if k != "<<"}, "docker-compose.yml")
    for key, block in compose.items():
        if key.startswith("x-") and isinstance(block, dict):
            add(block, "docker-compose.yml")
    add(dockerfile_env(), "Dockerfile")
    for template in (DEPLOY / "helm" / "idara" / "templates").iterdir():
        add(re.findall(r"- name: (IDARA_\w+)", template.read_text()), template.name)
    return where


def test_every_idara_variable_is_a_setting() -> None:
    settings = {f"IDARA_{name.upper()}" for name in Settings.model_fields}
    where = _idara_variables()
    assert len(where) > 20
    unknown = {name: sorted(files) for name, files in where.items() if name not in settings}
    assert set(unknown) <= DEPLOY_ONLY, unknown


def _settings(**values: str) -> Settings:
    """Settings from these values only (no environment, no .env file), validated as at start."""
    return Settings.model_validate(values)


@pytest.mark.parametrize("example", ["idara.env.example", "node.env.example"])
def test_examples_are_refused_in_production_until_secrets_are_set(example: str) -> None:
    env = env_lines(SYSTEMD / example)
    assert env["IDARA_ENVIRONMENT"] == "production"
    urls = {
        key.removeprefix("IDARA_").lower(): value
        for key, value in env.items()
        if key in {"IDARA_DATABASE_URL", "IDARA_REDIS_URL"}
    }
    assert urls
    with pytest.raises(ValidationError, match="uses a well-known password"):
        _settings(environment="production", **urls)
    real = {key: value.replace(":changeme@", ":3f9c0a1b2c4d5e6f@") for key, value in urls.items()}
    assert _settings(environment="production", **real).environment == "production"


def test_redis_site_example_uses_a_refused_placeholder() -> None:
    text = (SYSTEMD / "redis.site.conf.example").read_text()
    (password,) = re.findall(r"^requirepass (\S+)$", text, re.M)
    with pytest.raises(ValidationError, match="well-known password"):
        _settings(environment="production", redis_url=f"redis://:{password}@redis.local:6379/0")


def test_compose_env_example_leaves_every_secret_empty() -> None:
    env = env_lines(DEPLOY / "compose.env.example")
    for secret in (
        "POSTGRES_PASSWORD",
        "IDARA_DB_PASSWORD",
        "PREFECT_DB_PASSWORD",
        "REDIS_PASSWORD",
    ):
        assert env[secret] == "", secret
    assert env["NODE_RABAT_JOIN_TOKEN"] == ""
    gitignore = (DEPLOY / ".gitignore").read_text().split()
    assert ".env" in gitignore and "wheels/" in gitignore
