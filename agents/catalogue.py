"""The signed model catalogue: which GGUF files a node may load, vouched for by ops.

The catalogue is the model manifest (``agents.manifest``) plus a detached signature beside it,
``manifest.json.sig``: a C2SP signed note (``agents.signed_note``, Ed25519) whose text is
``idara model manifest`` and the sha256 of the manifest's exact bytes. Ops sign with a key kept
in a file on their machine (``ops.key``, mode 0600); a node holds only verifier keys and refuses
every model of a catalogue that is unsigned, signed by a key it does not trust, or changed after
it was signed. Each file's own sha256 is then checked against its entry, so a model file
swapped or damaged on its way in is refused as well. docs/models.md is the ops guide.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from agents.errors import ModelUnavailableError
from agents.manifest import (
    ModelEntry,
    Progress,
    load_manifest,
    parse_manifest,
    read_manifest_bytes,
    verified_model_path,
)
from agents.private_files import write_new
from agents.signed_note import (
    SIGNATURE_PREFIX,
    NoteError,
    SignerKey,
    VerifierKey,
    generate_signer,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    split_note,
)

NOTE_TITLE = "idara model manifest"
GGUF_MAGIC = b"GGUF"
VERIFIER_KEYS_SETTING = "IDARA_MODEL_VERIFIER_KEYS"
_CHUNK = 1 << 20
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
"""A model name goes into metric labels, ``--models`` lists and file names."""
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
"""An ISO 639 code, optionally with BCP 47 subtags: fr, ar, ber, ar-MA."""


class CatalogueError(ModelUnavailableError):
    """The catalogue cannot be trusted, or cannot be changed as asked; the message says what
    to fix."""


class CatalogueSettings(Protocol):
    """The settings the catalogue needs (a node's ``workers.settings.NodeSettings`` has them)."""

    @property
    def effective_model_manifest(self) -> Path: ...
    @property
    def effective_model_dir(self) -> Path: ...
    @property
    def effective_ops_key_file(self) -> Path: ...
    @property
    def model_verifier_keys(self) -> str: ...
    @property
    def seeds_dir(self) -> Path: ...


@dataclass(frozen=True)
class Catalogue:
    """Where one host's catalogue, model files and ops key are, and which keys it trusts."""

    manifest: Path
    model_dir: Path
    key_file: Path
    verifier_keys: str = ""
    seed: Path | None = None

    @classmethod
    def from_settings(cls, settings: CatalogueSettings) -> Catalogue:
        return cls(
            manifest=settings.effective_model_manifest,
            model_dir=settings.effective_model_dir,
            key_file=settings.effective_ops_key_file,
            verifier_keys=settings.model_verifier_keys,
            seed=settings.seeds_dir / "models" / "manifest.json",
        )

    @property
    def signature(self) -> Path:
        return self.manifest.with_name(self.manifest.name + ".sig")

    @property
    def public_key_file(self) -> Path:
        return self.key_file.with_suffix(".pub")


@dataclass(frozen=True)
class Trusted:
    """A catalogue whose signature verified, and the key that signed it."""

    entries: dict[str, ModelEntry]
    key: VerifierKey


@dataclass(frozen=True)
class NewModel:
    """What ops say about a model file they add."""

    file: Path
    name: str
    license: str
    languages: tuple[str, ...]
    added_by: str
    context: int = 2048
    in_place: bool = False
    source: str | None = None


def describe(key: VerifierKey) -> str:
    """A key as people compare it: ``<name>+<key id>``."""
    return f"{key.name}+{key.key_id.hex()}"


# --- keys ---------------------------------------------------------------------------------


def ops_signer(catalogue: Catalogue) -> SignerKey:
    """The ops signing key, made on first use; its verifier goes to ``ops.pub`` if none is
    there yet."""
    path = catalogue.key_file
    if not path.exists():
        write_new(path, generate_signer(_key_name()).text + "\n")
    try:
        signer = parse_signer_key(path.read_text(encoding="utf-8"))
    except (OSError, NoteError) as exc:
        raise CatalogueError(f"cannot use the ops signing key {path}: {exc}") from exc
    if not catalogue.public_key_file.exists():
        # Never replaced: on a node host it may be the ops machine's key, carried in.
        _write_atomic(catalogue.public_key_file, (signer.verifier.text + "\n").encode("utf-8"))
    return signer


def trusted_keys(catalogue: Catalogue) -> list[VerifierKey]:
    """The verifier keys this host trusts: the setting, else the local ``ops.pub`` (if any)."""
    source = VERIFIER_KEYS_SETTING
    texts = [text.strip() for text in catalogue.verifier_keys.split(",") if text.strip()]
    if not texts and catalogue.public_key_file.is_file():
        source = str(catalogue.public_key_file)
        lines = catalogue.public_key_file.read_text(encoding="utf-8").splitlines()
        texts = [line.strip() for line in lines if line.strip()]
    try:
        return [parse_verifier_key(text) for text in texts]
    except NoteError as exc:
        raise CatalogueError(f"{source} holds a malformed verifier key: {exc}") from exc


def _key_name() -> str:
    """``idara-ops@<host>``: says where a key was made (a key name has no space and no '+')."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"
    return f"idara-ops@{host}"


# --- signature ----------------------------------------------------------------------------


def signature_body(data: bytes) -> str:
    """The signed text: what is signed, and the sha256 of the manifest's exact bytes."""
    return f"{NOTE_TITLE}\nsha256 {hashlib.sha256(data).hexdigest()}\n"


def check_signature(catalogue: Catalogue, data: bytes, keys: list[VerifierKey]) -> VerifierKey:
    """The trusted key whose signature covers ``data`` (the manifest's bytes); refuses an
    unsigned manifest, an unknown key, a bad signature and a manifest changed after signing."""
    if not keys:
        raise CatalogueError(
            f"no key to verify the model catalogue with: set {VERIFIER_KEYS_SETTING} to the ops "
            f"verifier key (`idara models key` prints it on the ops machine) or copy ops.pub "
            f"to {catalogue.public_key_file}"
        )
    try:
        note = catalogue.signature.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogueError(
            f"model catalogue {catalogue.manifest} is not signed: {catalogue.signature} is missing"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"cannot read {catalogue.signature}: {exc}") from exc
    try:
        body, key = open_note(note, keys)
    except NoteError as exc:
        raise CatalogueError(_refusal(catalogue, note, keys, exc)) from exc
    if body.split("\n", 1)[0] != NOTE_TITLE:
        raise CatalogueError(f"{catalogue.signature} is not a model manifest signature")
    if body != signature_body(data):
        raise CatalogueError(
            f"model catalogue {catalogue.manifest} was changed after {describe(key)} signed it "
            f"(its sha256 is {hashlib.sha256(data).hexdigest()}, the signature covers "
            f"{body.split()[-1]})"
        )
    return key


def signature_state(catalogue: Catalogue, data: bytes) -> tuple[bool, str]:
    """Whether a trusted key signed ``data`` (the manifest's bytes), and by whom or why not."""
    try:
        signed_by = check_signature(catalogue, data, trusted_keys(catalogue))
    except ModelUnavailableError as exc:
        return False, str(exc)
    return True, f"signed by {describe(signed_by)} ({catalogue.signature})"


def _refusal(catalogue: Catalogue, note: str, keys: list[VerifierKey], exc: NoteError) -> str:
    if "no signature by a known key" not in str(exc):
        return f"signature {catalogue.signature} refused: {exc}"
    trusted = ", ".join(describe(key) for key in keys)
    return (
        f"model catalogue {catalogue.manifest} is signed by {_signers(note)}, which this host "
        f"does not trust (trusted: {trusted}; set {VERIFIER_KEYS_SETTING})"
    )


def _signers(note: str) -> str:
    """The key names on a note's signature lines, unverified (for a refusal message)."""
    try:
        lines = split_note(note)[1]
    except NoteError:
        return "no readable signature"
    names = [line.removeprefix(SIGNATURE_PREFIX).split(" ")[0] for line in lines]
    return ", ".join(names) or "nobody"


def load_trusted(catalogue: Catalogue, keys: list[VerifierKey] | None = None) -> Trusted:
    """The catalogue's entries, only if its signature verifies; bytes are read once, so what
    is parsed is what was verified."""
    data = read_manifest_bytes(catalogue.manifest)
    key = check_signature(catalogue, data, trusted_keys(catalogue) if keys is None else keys)
    return Trusted(parse_manifest(data, catalogue.manifest), key)


# --- the first start: the bundled model from the seed -------------------------------------


def ensure_installed(catalogue: Catalogue, progress: Progress | None = None) -> Trusted:
    """Make the catalogue from the seed if there is none yet, then verify it as a node will.
    Quick once it exists: nothing is hashed, only the signature is checked."""
    install_from_seed(catalogue, progress)
    return load_trusted(catalogue)


def install_from_seed(catalogue: Catalogue, progress: Progress | None = None) -> bool:
    """Write and sign the catalogue from the seed manifest, once each seed file matches the
    sha256 pinned there; False when a catalogue is already installed (it is never replaced)."""
    with _locked(catalogue):
        if catalogue.manifest.exists():
            return False
        _unlocked_install(catalogue, progress)
        return True


def _seed_raw(catalogue: Catalogue, progress: Progress | None) -> dict[str, Any]:
    if catalogue.seed is None:
        raise CatalogueError(f"no model catalogue at {catalogue.manifest} and no seed to make it")
    try:
        entries = load_manifest(catalogue.seed)
        for entry in entries.values():
            verified_model_path(entry, catalogue.model_dir, progress)
    except ModelUnavailableError as exc:
        raise CatalogueError(
            f"cannot install the model catalogue from {catalogue.seed}: {exc}"
        ) from exc
    raw: dict[str, Any] = json.loads(catalogue.seed.read_text(encoding="utf-8"))
    for item in raw.get("models", []):
        item.setdefault("added_at", _now())
        item.setdefault("added_by", "idara, from seeds/models/manifest.json on the first start")
    return raw


# --- changes by ops: add, remove ----------------------------------------------------------


def check_new_model(model: NewModel) -> None:
    """Refuse, before anything is hashed, what cannot go into the catalogue."""
    if not _NAME.match(model.name):
        raise CatalogueError(
            f"model name {model.name!r}: use lower-case letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    if not model.license.strip():
        raise CatalogueError("say under which licence the model is used (--license)")
    if model.context < 256:
        raise CatalogueError(f"a context of {model.context} tokens is too small (256 at least)")
    parse_languages(",".join(model.languages))
    check_gguf(model.file)


def parse_languages(text: str) -> tuple[str, ...]:
    codes = tuple(code.strip() for code in text.split(",") if code.strip())
    if not codes:
        raise CatalogueError("name the languages the model serves, e.g. --languages fr,ar")
    for code in codes:
        if not _LANGUAGE.match(code):
            raise CatalogueError(
                f"{code!r} is not a language code: use ISO 639 codes such as fr, ar, en, ber "
                "(comma-separated, lower case)"
            )
    return codes


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise CatalogueError(f"no such file: {path}")
    with path.open("rb") as handle:
        magic = handle.read(len(GGUF_MAGIC))
    if magic != GGUF_MAGIC:
        raise CatalogueError(
            f"{path} is not a GGUF model file (it starts with {magic!r}, not b'GGUF'); "
            "convert it with llama.cpp's convert scripts first"
        )


def add_model(
    catalogue: Catalogue, model: NewModel, progress: Progress | None = None
) -> ModelEntry:
    """Hash the file (copying it into the model directory unless ``in_place``), add its entry
    and sign the catalogue again. The catalogue must verify before it is changed, so a
    tampered one is never signed over."""
    check_new_model(model)
    with _locked(catalogue):
        raw = _verified_raw(catalogue)
        if any(item.get("name") == model.name for item in raw.get("models", [])):
            raise CatalogueError(
                f"a model named {model.name!r} is already in the catalogue; choose another "
                f"name or remove it first (idara models remove {model.name})"
            )
        file, digest, size = _take_file(catalogue, model, progress)
        item = _item(model, file, digest, size)
        raw.setdefault("models", []).append(item)
        _write_signed(catalogue, raw, ops_signer(catalogue))
    return parse_manifest(_render(raw), catalogue.manifest)[model.name]


def remove_model(catalogue: Catalogue, name: str) -> ModelEntry:
    """Take a model out of the catalogue and sign it again; its file is left where it is."""
    with _locked(catalogue):
        raw = _verified_raw(catalogue)
        entries = parse_manifest(_render(raw), catalogue.manifest)
        if name not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise CatalogueError(f"no model named {name!r} in the catalogue (models: {known})")
        raw["models"] = [item for item in raw["models"] if item.get("name") != name]
        _write_signed(catalogue, raw, ops_signer(catalogue))
    return entries[name]


def _verified_raw(catalogue: Catalogue) -> dict[str, Any]:
    """The catalogue as JSON, installed from the seed first if missing, and verified against
    the trusted keys and this host's own ops key."""
    if not catalogue.manifest.exists():
        _unlocked_install(catalogue, None)
    own = ops_signer(catalogue).verifier
    keys = [*trusted_keys(catalogue), own]
    data = read_manifest_bytes(catalogue.manifest)
    try:
        check_signature(catalogue, data, keys)
    except CatalogueError as exc:
        raise CatalogueError(
            f"{exc}; not changing it: put back the manifest that was signed, or delete "
            f"{catalogue.manifest.name} and its .sig to start again from the seed"
        ) from exc
    raw: dict[str, Any] = json.loads(data)
    return raw


def sign_manifest(catalogue: Catalogue) -> VerifierKey:
    """Sign the manifest as it is now with the ops key, checking nothing (for a manifest a
    tool wrote itself, as the tests do; people use ``add`` and ``remove``)."""
    signer = ops_signer(catalogue)
    with _locked(catalogue):
        _write_signature(catalogue, read_manifest_bytes(catalogue.manifest), signer)
    return signer.verifier


def _unlocked_install(catalogue: Catalogue, progress: Progress | None) -> None:
    """``install_from_seed`` for a caller that already holds the lock."""
    _write_signed(catalogue, _seed_raw(catalogue, progress), ops_signer(catalogue))


def _take_file(
    catalogue: Catalogue, model: NewModel, progress: Progress | None
) -> tuple[str, str, int]:
    """(file as the entry names it, sha256, size): copied into the model directory while it
    is hashed (one read of a file of several GB), or hashed where it is."""
    source = model.file.resolve()
    target = catalogue.model_dir / source.name
    if model.in_place or target.resolve() == source:
        digest = _copy_hashing(source, None, progress)
        name = source.name if target.resolve() == source else str(source)
        return name, digest, source.stat().st_size
    if target.exists():
        raise CatalogueError(
            f"{target} already exists; rename the file or remove the old one from "
            f"{catalogue.model_dir}"
        )
    digest = _copy_hashing(source, target, progress)
    return target.name, digest, target.stat().st_size


def _copy_hashing(source: Path, target: Path | None, progress: Progress | None) -> str:
    digest = hashlib.sha256()
    tmp = None if target is None else target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with source.open("rb") as reader, _maybe_open(tmp) as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                if writer is not None:
                    writer.write(chunk)
                if progress:
                    progress(len(chunk))
            if writer is not None:
                writer.flush()
                os.fsync(writer.fileno())
        if tmp is not None and target is not None:
            os.replace(tmp, target)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return digest.hexdigest()


@contextmanager
def _maybe_open(path: Path | None) -> Iterator[Any]:
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        yield handle


def _item(model: NewModel, file: str, digest: str, size: int) -> dict[str, Any]:
    return {
        "name": model.name,
        "file": file,
        "sha256": digest,
        "size": size,
        "license": model.license.strip(),
        "languages": list(parse_languages(",".join(model.languages))),
        "context": model.context,
        "added_at": _now(),
        "added_by": model.added_by,
        "source": model.source or str(model.file.resolve()),
    }


# --- files --------------------------------------------------------------------------------


def _render(raw: dict[str, Any]) -> bytes:
    return (json.dumps(raw, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_signed(catalogue: Catalogue, raw: dict[str, Any], signer: SignerKey) -> None:
    """Write the manifest, then its signature (a node reading in between refuses, briefly)."""
    data = _render(raw)
    _write_atomic(catalogue.manifest, data)
    _write_signature(catalogue, data, signer)


def _write_signature(catalogue: Catalogue, data: bytes, signer: SignerKey) -> None:
    note = sign_note(signature_body(data), signer)
    _write_atomic(catalogue.signature, note.encode("utf-8"))


@contextmanager
def _locked(catalogue: Catalogue) -> Iterator[None]:
    """One change at a time: two `idara models add` at once would each drop the other's."""
    catalogue.manifest.parent.mkdir(parents=True, exist_ok=True)
    lock = catalogue.manifest.with_name(f".{catalogue.manifest.name}.lock")
    with lock.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
