"""The model manifest: which GGUF files a node may load, and their expected sha256."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from agents.errors import ModelUnavailableError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelEntry:
    name: str
    file: str
    sha256: str
    size: int | None = None
    package: str | None = None
    license: str | None = None
    context: int = 2048

    def resolve_path(self, model_dir: Path) -> Path:
        """Where the file lives: inside an installed package, or under the model directory."""
        if self.package:
            return _package_dir(self.package, self.name) / self.file
        path = Path(self.file)
        return path if path.is_absolute() else model_dir / path


def _package_dir(package: str, model: str) -> Path:
    """The folder of an installed package, found without importing it (a model package's
    ``__init__`` may need plugins idara does not install)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            f"model {model!r}: package {package!r} is not installed (run `make install`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def load_manifest(path: Path) -> dict[str, ModelEntry]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelUnavailableError(f"model manifest not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise ModelUnavailableError(f"model manifest {path} is not valid JSON: {exc}") from exc
    entries = {}
    for item in raw.get("models", []):
        entry = ModelEntry(
            name=item["name"],
            file=item["file"],
            sha256=item["sha256"].lower(),
            size=item.get("size"),
            package=item.get("package"),
            license=item.get("license"),
            context=int(item.get("context", 2048)),
        )
        entries[entry.name] = entry
    return entries


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verified_model_path(entry: ModelEntry, model_dir: Path) -> Path:
    """Return the model's path only if the file exists and its sha256 matches the manifest."""
    path = entry.resolve_path(model_dir)
    if not path.is_file():
        raise ModelUnavailableError(f"model {entry.name!r}: file not found at {path}")
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise ModelUnavailableError(
            f"model {entry.name!r}: sha256 mismatch for {path}: manifest expects "
            f"{entry.sha256}, file has {actual}; refusing to load it"
        )
    return path
