"""The Debian packages of the offline bundle.

A site machine with no network has no Debian mirror either. ``idara bundle build`` therefore
downloads the packages idara needs (``deploy/debian-packages.txt``, plus Python 3.11 and its
venv module) *with everything they depend on, down to libc*, into ``debian/``, and writes a
``Packages`` index beside them: the folder is a flat apt repository.

Before the bundle is written, apt resolves the packages against that folder alone and an empty
package database (``Dir::State::status``): if a bare Debian machine could not install them from
the bundle, the build fails and names what is missing. ``deploy/install-offline.sh`` installs
the missing ones with apt from that folder only (no other source, no network).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from agents.manifest import sha256_file
from orchestrator.settings import REPO_ROOT

PACKAGE_LIST = REPO_ROOT / "deploy" / "debian-packages.txt"
PYTHON_PACKAGES = ("python3.11", "python3.11-venv")
"""The site needs Python too; install-offline.sh skips them when its Python 3.11 has venv."""
FOLDER = "debian"
WANTED = "wanted.txt"
_BATCH = 10
Progress = Callable[[str, int, int], None]


class DebianError(Exception):
    """The Debian part of the bundle cannot be made: the reason says what to fix."""


def wanted_packages() -> list[str]:
    """What idara needs installed (not what those depend on)."""
    lines = PACKAGE_LIST.read_text(encoding="utf-8").splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [*listed, *PYTHON_PACKAGES]


def closure(packages: Sequence[str], apt_options: Sequence[str] = ()) -> list[str]:
    """``packages`` and every package they depend on or pre-depend on, transitively (all
    alternatives of an ``a | b`` dependency; virtual names left out, their providers kept)."""
    listed = _run(
        [
            "apt-cache",
            *apt_options,
            "depends",
            "--recurse",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            *packages,
        ],
        "list the packages idara's Debian packages depend on",
    )
    names = {line.strip() for line in listed.splitlines() if line and not line[0].isspace()}
    return sorted(name for name in names if not name.startswith("<"))


def download(
    names: Sequence[str],
    folder: Path,
    progress: Progress | None = None,
    apt_options: Sequence[str] = (),
) -> list[Path]:
    """``apt-get download`` each package into ``folder`` (the build machine's apt sources)."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(names), _BATCH):
        batch = names[start : start + _BATCH]
        _run(
            ["apt-get", *apt_options, "-o", "APT::Sandbox::User=root", "download", *batch],
            f"download {', '.join(batch)} from this machine's Debian mirror",
            cwd=folder,
        )
        if progress:
            progress("debian", min(start + _BATCH, len(names)), len(names))
    return sorted(folder.glob("*.deb"))


def write_index(folder: Path) -> Path:
    """A ``Packages`` file for the ``.deb`` files in ``folder``: each one's control fields,
    its file name, size and sha256 (what apt checks before it installs a package)."""
    stanzas = []
    for deb in sorted(folder.glob("*.deb")):
        control = _run(["dpkg-deb", "--field", str(deb)], f"read {deb.name}").rstrip("\n")
        stanzas.append(
            f"{control}\nFilename: ./{deb.name}\nSize: {deb.stat().st_size}\n"
            f"SHA256: {sha256_file(deb)}\n"
        )
    index = folder / "Packages"
    index.write_text("\n".join(stanzas), encoding="utf-8")
    return index


def check_installable(folder: Path, packages: Iterable[str]) -> None:
    """Resolve ``packages`` as apt would on a machine with nothing installed and only
    ``folder`` as a source; raise :class:`DebianError` with apt's reason if it cannot."""
    with tempfile.TemporaryDirectory(prefix="idara-apt-") as scratch:
        options = local_source_options(folder, Path(scratch), empty_status=True)
        _run(["apt-get", *options, "update"], "read the bundle's Packages index")
        _run(
            ["apt-get", *options, "install", "--simulate", *packages],
            "install idara's Debian packages on a bare machine from the bundle alone",
        )


def local_source_options(folder: Path, scratch: Path, empty_status: bool = False) -> list[str]:
    """apt options that make ``folder`` (a flat repository) the only source, with apt's lists
    and caches in ``scratch``; ``empty_status`` also hides what is installed here."""
    (scratch / "lists" / "partial").mkdir(parents=True)
    (scratch / "archives" / "partial").mkdir(parents=True)
    sources = scratch / "sources.list"
    sources.write_text(f"deb [trusted=yes] file:{folder.resolve()} ./\n", encoding="utf-8")
    options = {
        "Dir::Etc::SourceList": str(sources),
        "Dir::Etc::SourceParts": str(scratch / "no-parts"),
        "Dir::State::Lists": str(scratch / "lists"),
        "Dir::Cache::Archives": str(scratch / "archives"),
        "Dir::Cache::pkgcache": "",
        "Dir::Cache::srcpkgcache": "",
        "APT::Sandbox::User": "root",
        "Acquire::Languages": "none",
    }
    if empty_status:
        status = scratch / "status"
        status.touch()
        options["Dir::State::status"] = str(status)
    return [item for key, value in options.items() for item in ("-o", f"{key}={value}")]


def add_to_bundle(out: Path, progress: Progress | None = None) -> dict[str, str]:
    """Download the closure into ``out/debian``, index it, prove it installs on a bare
    machine, and list the wanted packages; returns each package's version."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise DebianError(
            "this machine has no apt: build the bundle on Debian 12 (the site's release), "
            "or pass --no-debian and install the Debian packages on the site yourself"
        )
    wanted = wanted_packages()
    folder = out / FOLDER
    debs = download(closure(wanted), folder, progress)
    write_index(folder)
    check_installable(folder, wanted)
    (folder / WANTED).write_text("\n".join(wanted) + "\n", encoding="utf-8")
    return dict(sorted(_name_and_version(deb) for deb in debs))


def _name_and_version(deb: Path) -> tuple[str, str]:
    fields = _run(["dpkg-deb", "--show", "--showformat=${Package}\t${Version}", str(deb)], deb.name)
    name, version = fields.split("\t", 1)
    return name, version


def _run(command: list[str], doing: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DebianError(f"could not {doing}: {exc}") from exc
    if done.returncode != 0:
        # apt prints the unmet dependencies on stdout and only its verdict on stderr
        lines = (done.stdout + "\n" + done.stderr).splitlines()
        said = [line.strip() for line in lines if line.strip()][-8:]
        raise DebianError(f"could not {doing}: " + " / ".join(said))
    return done.stdout
