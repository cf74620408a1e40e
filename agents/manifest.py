"""The model manifest: which GGUF files a node may load, and their expected sha256."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Callable
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
    languages: tuple[str, ...] = ()
    added_at: str | None = None
    added_by: str | None = None
    source: str | None = None

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
    """The manifest's entries, unverified (``agents.catalogue`` checks its signature)."""
    return parse_manifest(read_manifest_bytes(path), path)


def read_manifest_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelUnavailableError(f"model manifest not found: {path}") from exc


def parse_manifest(data: bytes, path: Path) -> dict[str, ModelEntry]:
    """Entries by name from the manifest's bytes (``path`` only names it in errors)."""
    try:
        raw = json.loads(data.decode("utf-8"))
        items = raw.get("models", [])
        entries = {}
        for item in items:
            entry = _entry(item)
            entries[entry.name] = entry
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelUnavailableError(f"model manifest {path} is not valid JSON: {exc}") from exc
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ModelUnavailableError(f"model manifest {path} is malformed: {exc}") from exc
    return entries


def _entry(item: dict[str, object]) -> ModelEntry:
    return ModelEntry(
        name=str(item["name"]),
        file=str(item["file"]),
        sha256=str(item["sha256"]).lower(),
        size=_optional_int(item.get("size")),
        package=_optional_str(item.get("package")),
        license=_optional_str(item.get("license")),
        context=int(str(item.get("context", 2048))),
        languages=tuple(str(code) for code in _list(item.get("languages"))),
        added_at=_optional_str(item.get("added_at")),
        added_by=_optional_str(item.get("added_by")),
        source=_optional_str(item.get("source")),
    )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def _list(value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"languages is a list of codes, not {value!r}")
    return value


Progress = Callable[[int], None]
"""Told how many more bytes were read (a progress bar's ``advance``)."""


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def verified_model_path(
    entry: ModelEntry, model_dir: Path, progress: Progress | None = None
) -> Path:
    """Return the model's path only if the file exists and its sha256 matches the manifest."""
    path = entry.resolve_path(model_dir)
    if not path.is_file():
        raise ModelUnavailableError(f"model {entry.name!r}: file not found at {path}")
    actual = sha256_file(path, progress)
    if actual != entry.sha256:
        raise ModelUnavailableError(
            f"model {entry.name!r}: sha256 mismatch for {path}: manifest expects "
            f"{entry.sha256}, file has {actual}; refusing to load it"
        )
    return path
