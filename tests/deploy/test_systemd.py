"""deploy/systemd: every unit parses (systemd-analyze verify where systemd is installed), starts
a program that the virtual environment or Debian provides, with the options idara accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.settings import Settings

REPO = Path(__file__).resolve().parents[2]
UNITS_DIR = REPO / "deploy" / "systemd"
UNITS = sorted(p.name for p in UNITS_DIR.iterdir() if p.suffix in {".service", ".target"})
SERVICES = [name for name in UNITS if name.endswith(".service")]
INSTALL = Path("/opt/idara")
DEBIAN = {"/usr/bin/redis-server": "redis-server"}
"""Programs a unit may start from Debian, and the package that provides each."""


def parse(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting, in order: keys may repeat (EnvironmentFile=)."""
    entries, section = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {raw!r}"
        entries.append((section, key.strip(), value.strip()))
    return entries


def values(path: Path, key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in parse(path) if s == section and k == key]


def env_file(path: Path) -> dict[str, str]:
    result = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            result[key] = value.strip('"')
    return result


def test_the_expected_units_are_there() -> None:
    assert set(UNITS) == {
        "idara.target",
        "idara-api.service",
        "idara-engine.service",
        "idara-migrate.service",
        "idara-node@.service",
        "idara-prefect.service",
        "idara-redis.service",
    }


@pytest.mark.parametrize("unit", UNITS)
def test_unit_parses_into_known_sections(unit: str) -> None:
    sections = {section for section, _, _ in parse(UNITS_DIR / unit)}
    assert sections <= {"Unit", "Service", "Install"}
    assert "Unit" in sections and "Install" in sections


@pytest.mark.parametrize("unit", SERVICES)
def test_exec_start_is_a_program_the_venv_or_debian_provides(unit: str) -> None:
    (command,) = values(UNITS_DIR / unit, "ExecStart")
    program = Path(command.split()[0])
    if program.is_relative_to(INSTALL):
        venv_program = REPO / program.relative_to(INSTALL)
        if not (REPO / ".venv").is_dir():
            pytest.skip("no .venv in this checkout")
        assert venv_program.is_file(), f"{unit}: {venv_program} is not in the virtualenv"
    else:
        assert str(program) in DEBIAN, f"{unit}: {program} is neither in the venv nor Debian's"


@pytest.mark.parametrize("unit", SERVICES)
def test_every_variable_a_command_line_uses_has_a_default(unit: str) -> None:
    defaults = env_file(UNITS_DIR / "idara-defaults.env")
    (command,) = values(UNITS_DIR / unit, "ExecStart")
    for name in re.findall(r"\$\{(\w+)\}", command):
        assert name in defaults, f"{unit}: ${{{name}}} would be empty without the site file"


@pytest.mark.parametrize("unit", SERVICES)
def test_services_are_hardened(unit: str) -> None:
    path = UNITS_DIR / unit
    assert values(path, "User") == ["idara"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "SystemCallFilter": "@system-service",
    }.items():
        assert values(path, key) == [value], f"{unit}: {key}"
    assert values(path, "RestrictAddressFamilies")
    (writable,) = values(path, "ReadWritePaths")
    assert writable.startswith("/var/lib/idara")
    assert values(path, "WantedBy", "Install") == ["idara.target"]
    assert values(path, "PartOf", "Unit") == ["idara.target"]


@pytest.mark.parametrize("unit", [u for u in SERVICES if u != "idara-redis.service"])
def test_idara_services_read_the_shipped_defaults_then_the_site_file(unit: str) -> None:
    files = values(UNITS_DIR / unit, "EnvironmentFile")
    assert files[0] == "/opt/idara/deploy/systemd/idara-defaults.env"
    assert files[1].startswith("/etc/idara/") and len(files) == 2


def test_api_and_engine_require_the_migrations() -> None:
    for unit in ("idara-api.service", "idara-engine.service"):
        path = UNITS_DIR / unit
        assert values(path, "Requires", "Unit") == ["idara-migrate.service"]
        assert "idara-migrate.service" in values(path, "After", "Unit")[0].split()
    migrate = UNITS_DIR / "idara-migrate.service"
    assert values(migrate, "Type") == ["oneshot"]
    assert values(migrate, "ExecStart") == ["/opt/idara/.venv/bin/idara migrate"]


def test_node_stops_warm_within_more_than_a_step() -> None:
    path = UNITS_DIR / "idara-node@.service"
    assert values(path, "KillMode") == ["mixed"]
    (timeout,) = values(path, "TimeoutStopSec")
    assert int(timeout) > Settings.model_fields["step_timeout_s"].default
    assert values(path, "EnvironmentFile")[1] == "/etc/idara/node-%i.env"


def test_redis_settings_keep_every_step() -> None:
    conf = dict(
        line.split(" ", 1)
        for line in (UNITS_DIR / "redis.conf").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert conf["appendonly"] == "yes"
    assert conf["appendfsync"] == "everysec"
    assert conf["maxmemory-policy"] == "noeviction"
    assert conf["include"] == "/etc/idara/redis.conf"
    assert "requirepass" in (UNITS_DIR / "redis.site.conf.example").read_text()


def test_the_idara_commands_take_the_options_the_units_give() -> None:
    from orchestrator.cli.main import app

    runner = CliRunner()
    for argv in (["migrate", "--help"], ["engine", "--help"], ["node", "start", "--help"]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, (argv, result.output)
    help_text = runner.invoke(app, ["node", "start", "--help"]).output
    assert "--models" in help_text and "--concurrency" in help_text


def test_uvicorn_and_prefect_take_the_options_the_units_give() -> None:
    venv_bin = REPO / ".venv" / "bin"
    if not venv_bin.is_dir():
        pytest.skip("no .venv in this checkout")
    uvicorn = subprocess.run(
        [str(venv_bin / "uvicorn"), "--help"], capture_output=True, text=True, timeout=60
    )
    for option in ("--factory", "--no-server-header", "--log-level"):
        assert option in uvicorn.stdout
    prefect = subprocess.run(
        [str(venv_bin / "prefect"), "server", "start", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    for option in ("--host", "--port"):
        assert option in prefect.stdout


def test_admin_script_is_valid_sh() -> None:
    done = subprocess.run(["sh", "-n", str(UNITS_DIR / "idara-admin")], capture_output=True)
    assert done.returncode == 0, done.stderr


def _fake_root(tmp_path: Path) -> Path:
    """A root with systemd's own units and stand-ins for the programs (checked above)."""
    root = tmp_path / "root"
    system = root / "etc" / "systemd" / "system"
    system.mkdir(parents=True)
    for lib in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if lib.is_dir():
            shutil.copytree(lib, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
            break
    for unit in UNITS:
        shutil.copy(UNITS_DIR / unit, system / unit)
    shutil.copy(UNITS_DIR / "idara-node@.service", system / "idara-node@gpu-1.service")
    dropin = system / "idara-node@gpu-1.service.d"
    dropin.mkdir()
    shutil.copy(UNITS_DIR / "idara-node-gpu.conf", dropin / "gpu.conf")
    for unit in SERVICES:
        (command,) = values(UNITS_DIR / unit, "ExecStart")
        program = root / command.split()[0].lstrip("/")
        program.parent.mkdir(parents=True, exist_ok=True)
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    return root


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    root = _fake_root(tmp_path)
    names = [u for u in UNITS if u != "idara-node@.service"] + ["idara-node@gpu-1.service"]
    done = subprocess.run(
        [analyze, "verify", "--man=no", f"--root={root}", *names],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root / "etc" / "systemd" / "system",
    )
    # Unknown keys and bad values are only warnings (exit 0): any output is a failure here.
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), (
        done.stdout + done.stderr
    )
