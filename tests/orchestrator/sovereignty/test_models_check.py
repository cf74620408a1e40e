"""``idara sovereignty check``'s model lines: the catalogue's signature as a node checks it
(PASS naming the key, FAIL saying why), then one sha256 line per model file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from agents.catalogue import Catalogue, ops_signer
from orchestrator.settings import Settings
from orchestrator.sovereignty.check import Line, _models
from orchestrator.stack import install_for_stack

TINY = b"GGUF tiny weights"


def settings_with_catalogue(tmp_path: Path) -> Settings:
    """A data dir whose signed catalogue (made from a tiny seed) names one fake model."""
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    (data / "models" / "tiny.gguf").write_bytes(TINY)
    seeds = tmp_path / "seeds"
    (seeds / "models").mkdir(parents=True)
    entry = {"name": "tiny", "file": "tiny.gguf", "sha256": hashlib.sha256(TINY).hexdigest()}
    (seeds / "models" / "manifest.json").write_text(json.dumps({"models": [entry]}))
    settings = Settings(data_dir=data, seeds_dir=seeds)
    install_for_stack(settings)
    return settings


def by_what(lines: list[Line]) -> dict[str, Line]:
    return {line.what: line for line in lines}


def test_a_signed_catalogue_passes_and_names_its_key(tmp_path: Path) -> None:
    settings = settings_with_catalogue(tmp_path)
    lines = by_what(_models(settings))
    key = ops_signer(Catalogue.from_settings(settings)).verifier
    signature = lines["models: manifest signature"]
    assert signature.status == "PASS"
    assert f"signed by {key.name}+{key.key_id.hex()}" in signature.detail
    assert lines["model tiny: sha256"].status == "PASS"


def test_an_edited_catalogue_or_file_fails_with_the_reason(tmp_path: Path) -> None:
    settings = settings_with_catalogue(tmp_path)
    manifest = settings.effective_model_manifest
    manifest.write_text(manifest.read_text().replace('"tiny.gguf"', '"tiny.gguf" '))
    (settings.effective_model_dir / "tiny.gguf").write_bytes(TINY + b"!")
    lines = by_what(_models(settings))
    assert lines["models: manifest signature"].status == "FAIL"
    assert "was changed after" in lines["models: manifest signature"].detail
    assert lines["model tiny: sha256"].status == "FAIL"
    assert "sha256 mismatch" in lines["model tiny: sha256"].detail


def test_no_catalogue_yet_fails_and_says_where(tmp_path: Path) -> None:
    (line,) = _models(Settings(data_dir=tmp_path))
    assert line.status == "FAIL" and "not found" in line.detail
    assert str(tmp_path / "models" / "manifest.json") in line.detail
