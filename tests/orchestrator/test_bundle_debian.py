"""The bundle's Debian packages: a flat apt repository a bare machine installs from.

Real apt and dpkg on small packages made here with ``dpkg-deb --build`` (tests have no network,
so nothing is downloaded); the real packages' download is measured in the issue note."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from orchestrator import bundle_debian

pytestmark = pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None,
    reason="needs Debian's apt and dpkg",
)


def make_deb(folder: Path, name: str, depends: str = "") -> Path:
    root = folder / f"{name}-root"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "usr" / "share" / "doc" / name).mkdir(parents=True)
    (root / "usr" / "share" / "doc" / name / "README").write_text(f"{name}\n")
    control = (
        f"Package: {name}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: idara tests "
        f"<tests@idara.invalid>\nDescription: {name}, made by the test\n a second line\n"
    )
    if depends:
        control += f"Depends: {depends}\n"
    (root / "DEBIAN" / "control").write_text(control)
    deb = folder / f"{name}_1.0-1_all.deb"
    bundle_debian._run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], name)
    shutil.rmtree(root)
    return deb


def test_the_index_lists_each_package_with_its_size_and_sha256(tmp_path: Path) -> None:
    deb = make_deb(tmp_path, "idara-probe-a")
    index = bundle_debian.write_index(tmp_path).read_text()
    assert "Package: idara-probe-a\n" in index
    assert "\n a second line\n" in index  # multi-line fields kept as they are
    assert f"Filename: ./{deb.name}\nSize: {deb.stat().st_size}\n" in index
    assert f"SHA256: {bundle_debian.sha256_file(deb)}\n" in index


def test_apt_installs_a_package_and_its_dependency_from_the_folder_alone(tmp_path: Path) -> None:
    make_deb(tmp_path, "idara-probe-a", depends="idara-probe-b (>= 1.0)")
    make_deb(tmp_path, "idara-probe-b")
    bundle_debian.write_index(tmp_path)
    bundle_debian.check_installable(tmp_path, ["idara-probe-a"])  # raises if apt cannot

    with tempfile.TemporaryDirectory() as scratch:
        options = bundle_debian.local_source_options(tmp_path, Path(scratch), empty_status=True)
        bundle_debian._run(["apt-get", *options, "update"], "update")
        assert bundle_debian.closure(["idara-probe-a"], options) == [
            "idara-probe-a",
            "idara-probe-b",
        ]


def test_a_missing_dependency_fails_the_build_and_is_named(tmp_path: Path) -> None:
    make_deb(tmp_path, "idara-probe-a", depends="idara-probe-b")
    bundle_debian.write_index(tmp_path)
    with pytest.raises(bundle_debian.DebianError) as raised:
        bundle_debian.check_installable(tmp_path, ["idara-probe-a"])
    message = str(raised.value)
    assert "on a bare machine from the bundle alone" in message
    assert "idara-probe-b" in message


def test_the_wanted_packages_are_the_runtime_list_and_python() -> None:
    wanted = bundle_debian.wanted_packages()
    assert {"redis-server", "libpango-1.0-0", "fonts-dejavu-core", "libgomp1"} <= set(wanted)
    assert wanted[-2:] == ["python3.11", "python3.11-venv"]
    assert not [name for name in wanted if name.startswith("#") or " " in name]
