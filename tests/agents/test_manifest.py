from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.errors import ModelUnavailableError
from agents.manifest import ModelEntry, load_manifest, sha256_file, verified_model_path
from workers.settings import SEEDS_DIR

DEFAULT_SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def test_default_model_is_installed_and_matches_its_sha256() -> None:
    entry = load_manifest(SEEDS_DIR / "models" / "manifest.json")["smollm2-135m"]
    path = verified_model_path(entry, Path("."))
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size == 98_362_432
    assert entry.sha256 == DEFAULT_SHA


def test_a_file_whose_sha256_differs_is_refused_with_both_hashes(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF not the expected weights")
    entry = ModelEntry(name="m", file="m.gguf", sha256=DEFAULT_SHA)
    with pytest.raises(ModelUnavailableError) as caught:
        verified_model_path(entry, tmp_path)
    message = str(caught.value)
    assert "sha256 mismatch" in message
    assert DEFAULT_SHA in message and sha256_file(model) in message


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    entry = ModelEntry(name="m", file="absent.gguf", sha256=DEFAULT_SHA)
    with pytest.raises(ModelUnavailableError, match="file not found"):
        verified_model_path(entry, tmp_path)


def test_a_missing_package_is_refused_with_the_fix() -> None:
    entry = ModelEntry(name="m", file="x.gguf", sha256=DEFAULT_SHA, package="no_such_pkg_idara")
    with pytest.raises(ModelUnavailableError, match="make install"):
        verified_model_path(entry, Path("."))


def test_an_unreadable_manifest_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text("{not json")
    with pytest.raises(ModelUnavailableError, match="not valid JSON"):
        load_manifest(bad)
    with pytest.raises(ModelUnavailableError, match="not found"):
        load_manifest(tmp_path / "absent.json")


def test_manifest_entries_keep_their_fields(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        json.dumps(
            {"models": [{"name": "a", "file": "/abs/a.gguf", "sha256": "AB" * 32, "context": 4096}]}
        )
    )
    entry = load_manifest(manifest)["a"]
    assert entry.sha256 == "ab" * 32
    assert entry.context == 4096
    assert entry.resolve_path(tmp_path) == Path("/abs/a.gguf")
