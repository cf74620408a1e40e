"""``idara models``: add, list, verify and remove on a tmp data dir, as ops would use them; a
model file or a catalogue changed by one byte fails ``verify``. The files are tiny fake GGUF
files (nothing is loaded); the seed names one of them, so the first use is quick."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orchestrator.cli.main import app as cli
from orchestrator.settings import get_settings
from orchestrator.stack import Stack, StackError, install_for_stack

runner = CliRunner()
SEED_MODEL = b"GGUF seed weights"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data dir and a seed naming ``data/models/seed.gguf``; no other model setting."""
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    (data / "models" / "seed.gguf").write_bytes(SEED_MODEL)
    seeds = tmp_path / "seeds"
    (seeds / "models").mkdir(parents=True)
    entry = {
        "name": "seed-model",
        "file": "seed.gguf",
        "sha256": hashlib.sha256(SEED_MODEL).hexdigest(),
        "license": "Apache-2.0",
        "languages": ["fr"],
    }
    (seeds / "models" / "manifest.json").write_text(json.dumps({"models": [entry]}))
    monkeypatch.setenv("IDARA_DATA_DIR", str(data))
    monkeypatch.setenv("IDARA_SEEDS_DIR", str(seeds))
    for name in ("MODEL_MANIFEST", "MODEL_DIR", "OPS_KEY_FILE", "MODEL_VERIFIER_KEYS"):
        monkeypatch.delenv(f"IDARA_{name}", raising=False)
    get_settings.cache_clear()
    yield data
    get_settings.cache_clear()


def idara(*args: str) -> Result:
    return runner.invoke(cli, ["models", *args], catch_exceptions=False)


def fake_gguf(path: Path) -> Path:
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)
    return path


def flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def add_carried(tmp_path: Path) -> Path:
    source = fake_gguf(tmp_path / "carried.gguf")
    added = idara(
        "add", str(source), "--name", "carried", "--license", "MIT", "--languages", "fr,ar"
    )
    assert added.exit_code == 0, added.output
    assert "added carried" in added.output and "catalogue signed by idara-ops@" in added.output
    return source


def test_add_then_list_shows_it_and_verify_passes(data_dir: Path, tmp_path: Path) -> None:
    source = add_carried(tmp_path)
    copied = data_dir / "models" / "carried.gguf"
    assert copied.read_bytes() == source.read_bytes()
    listed = idara("list")
    assert listed.exit_code == 0, listed.output
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert "carried" in listed.output and digest[:12] in listed.output
    assert "fr,ar" in listed.output and "MIT" in listed.output
    assert "seed-model" in listed.output  # the catalogue was made from the seed first
    assert "signature: PASS signed by idara-ops@" in listed.output
    verified = idara("verify")
    assert verified.exit_code == 0, verified.output
    assert "PASS signature" in verified.output
    assert f"PASS carried: sha256 {digest}" in verified.output
    assert "PASS seed-model" in verified.output


def test_a_model_file_changed_by_one_byte_fails_verify(data_dir: Path, tmp_path: Path) -> None:
    add_carried(tmp_path)
    flip_byte(data_dir / "models" / "carried.gguf", 100)
    verified = idara("verify")
    assert verified.exit_code == 1
    assert "FAIL carried: " in verified.output and "sha256 mismatch" in verified.output
    assert "PASS seed-model" in verified.output and "PASS signature" in verified.output
    assert idara("verify", "seed-model").exit_code == 0  # one model only


def test_a_catalogue_changed_by_one_byte_fails_verify_and_list(
    data_dir: Path, tmp_path: Path
) -> None:
    add_carried(tmp_path)
    manifest = data_dir / "models" / "manifest.json"
    data = bytearray(manifest.read_bytes())
    data[data.index(b"MIT")] = ord("L")  # one byte: the licence now reads "LIT"
    manifest.write_bytes(bytes(data))
    verified = idara("verify")
    assert verified.exit_code == 1
    assert "FAIL signature" in verified.output and "changed after" in verified.output
    assert "signature: FAIL" in idara("list").output


def test_what_add_refuses_says_what_to_fix(data_dir: Path, tmp_path: Path) -> None:
    not_gguf = tmp_path / "weights.bin"
    not_gguf.write_bytes(b"PK\x03\x04 a zip file")
    cases = {
        "not a GGUF model file": [str(not_gguf), "--name", "x", "--languages", "fr"],
        "no such file": [str(tmp_path / "absent.gguf"), "--name", "x", "--languages", "fr"],
        "is not a language code": [
            str(fake_gguf(tmp_path / "a.gguf")),
            "--name",
            "x",
            "--languages",
            "French",
        ],
        "already in the catalogue": [
            str(fake_gguf(tmp_path / "b.gguf")),
            "--name",
            "seed-model",
            "--languages",
            "fr",
        ],
        "model name 'Big Model'": [
            str(fake_gguf(tmp_path / "c.gguf")),
            "--name",
            "Big Model",
            "--languages",
            "fr",
        ],
    }
    for message, args in cases.items():
        result = idara("add", *args, "--license", "MIT")
        assert result.exit_code == 1, (message, result.output)
        assert "error:" in result.output and message in result.output, result.output
    assert not (data_dir / "models" / "weights.bin").exists()
    assert not (data_dir / "models" / "b.gguf").exists()


def test_remove_signs_again_and_leaves_the_file(data_dir: Path, tmp_path: Path) -> None:
    add_carried(tmp_path)
    removed = idara("remove", "carried")
    assert removed.exit_code == 0, removed.output
    assert "carried" not in idara("list").output.split("signature:")[0]
    assert idara("verify").exit_code == 0
    assert (data_dir / "models" / "carried.gguf").exists()
    assert idara("remove", "carried").exit_code == 1


def test_key_prints_the_verifier_a_node_host_trusts(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_carried(tmp_path)
    printed = idara("key")
    assert printed.exit_code == 0
    verifier = printed.stdout.strip().splitlines()[-1]
    assert verifier == (data_dir / "keys" / "ops.pub").read_text().strip()
    # a node host: another data dir, only the verifier key and the carried catalogue
    node = tmp_path / "node"
    monkeypatch.setenv("IDARA_DATA_DIR", str(node))
    monkeypatch.setenv("IDARA_MODEL_DIR", str(data_dir / "models"))
    monkeypatch.setenv("IDARA_MODEL_VERIFIER_KEYS", verifier)
    get_settings.cache_clear()
    (node / "models").mkdir(parents=True)
    for name in ("manifest.json", "manifest.json.sig"):
        (node / "models" / name).write_bytes((data_dir / "models" / name).read_bytes())
    verified = idara("verify")
    assert verified.exit_code == 0, verified.output
    assert not (node / "keys" / "ops.key").exists()  # verifying never makes a key


def test_a_stack_does_not_start_on_a_tampered_catalogue(data_dir: Path) -> None:
    settings = get_settings()
    install_for_stack(settings)  # the first start: made from the seed and signed
    install_for_stack(settings)  # a later start: only the signature is checked
    manifest = data_dir / "models" / "manifest.json"
    manifest.write_text(manifest.read_text().replace("Apache-2.0", "Apache-2.1"))
    with pytest.raises(StackError, match="was changed after") as caught:
        install_for_stack(settings)
    assert "idara models verify" in str(caught.value)


def test_the_stack_hands_its_children_the_catalogue_and_the_trusted_keys(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDARA_MODEL_VERIFIER_KEYS", "ops+01020304+AQ==")
    get_settings.cache_clear()
    env = Stack(get_settings(), models=[]).env()
    assert env["IDARA_MODEL_MANIFEST"] == str(data_dir.resolve() / "models" / "manifest.json")
    assert env["IDARA_MODEL_DIR"] == str(data_dir.resolve() / "models")
    assert env["IDARA_OPS_KEY_FILE"] == str(data_dir.resolve() / "keys" / "ops.key")
    assert env["IDARA_MODEL_VERIFIER_KEYS"] == "ops+01020304+AQ=="
