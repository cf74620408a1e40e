"""The offline bundle: wheels repacked from this environment install and run with no network.

The slow test is the proof the issue asks for: the bundle is built, installed inside a network
namespace that has only loopback (``unshare --net``), and the demo runs there."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from orchestrator import bundle
from orchestrator.settings import REPO_ROOT

IDARA = REPO_ROOT / ".venv" / "bin" / "idara"
INSTALLER = REPO_ROOT / "deploy" / "install-offline.sh"


def test_a_repacked_wheel_holds_the_installed_files_and_a_valid_record(tmp_path: Path) -> None:
    dist = metadata.distribution("vine")
    wheel = bundle.repack(dist, tmp_path)
    assert wheel.name == f"vine-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        record = archive.read(f"vine-{dist.version}.dist-info/RECORD").decode()
    assert "vine/__init__.py" in names and f"vine-{dist.version}.dist-info/METADATA" in names
    assert not any(name.endswith(".pyc") for name in names)
    listed = {line.split(",")[0] for line in record.splitlines()}
    assert listed == names


def test_the_closure_follows_extras_and_refuses_what_is_missing() -> None:
    names = {
        bundle.normalise(d.metadata["Name"]) for d in bundle.runtime_closure(["psycopg[binary]"])
    }
    assert {"psycopg", "psycopg-binary"} <= names
    with pytest.raises(bundle.BundleError, match="not installed here"):
        bundle.runtime_closure(["no-such-distribution-anywhere"])
    with pytest.raises(bundle.BundleError, match="is needed"):
        bundle.runtime_closure(["vine<0.1"])


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="a network namespace needs root and unshare",
)
def test_the_bundle_installs_and_runs_the_demo_with_no_network(tmp_path: Path) -> None:
    out, site = tmp_path / "bundle", tmp_path / "site"
    started = time.monotonic()
    # --no-debian: downloading the Debian packages needs the mirror, and tests have no network
    # (tests/orchestrator/test_bundle_debian.py tests them with packages made locally).
    built = subprocess.run(
        [str(IDARA), "bundle", "build", str(out), "--no-debian"], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr + built.stdout
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    script = (
        "ip link set lo up && "
        'test -z "$(ip -o route show)" && '  # no route at all: only loopback is reachable
        f"{INSTALLER} {out} {site} && cd {site} && .venv/bin/idara demo"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDARA_", "PREFECT_"))}
    done = subprocess.run(
        ["unshare", "--net", "bash", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "carries no Debian packages" in output
    assert "9 cases completed" in output
    assert "egress: 0 connection(s) out of the premises attempted" in output
    print(
        f"bundle {size_mb:.0f} MB; built, installed offline and demo run in "
        f"{time.monotonic() - started:.0f} s"
    )
