"""C2SP signed notes carrying C2SP tlog-checkpoints, signed with Ed25519.

The byte layout follows c2sp.org/signed-note and c2sp.org/tlog-checkpoint so that existing
tooling (and an auditor's own code) can read idara's checkpoints; docs/audit-format.md spells
it out. Only Ed25519 keys (signature type 0x01) are supported.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ED25519_TYPE = b"\x01"
SIGNATURE_PREFIX = "\u2014 "
"""An em dash and a space start every signature line."""

KEY_ID_SIZE = 4
ED25519_SIGNATURE_SIZE = 64
ED25519_KEY_SIZE = 32
ROOT_SIZE = 32
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A key, checkpoint or signed note that is malformed or does not verify."""


@dataclass(frozen=True)
class VerifierKey:
    """A public key that may verify notes, under a name that signature lines repeat."""

    name: str
    key_id: bytes
    public_key: bytes

    @property
    def text(self) -> str:
        """``<name>+<key id hex>+<base64(0x01 || public key)>``."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(ED25519_TYPE + self.public_key)}"

    def verifies(self, body: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature over ``body``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, body)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class SignerKey:
    """A private key that signs notes; ``text`` is a secret, ``verifier`` is shareable."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey = field(repr=False, compare=False)

    @property
    def seed(self) -> bytes:
        """The 32-byte Ed25519 private seed."""
        return self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def text(self) -> str:
        """``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``."""
        encoded = _b64(ED25519_TYPE + self.seed)
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    @property
    def verifier(self) -> VerifierKey:
        """The matching public key."""
        return VerifierKey(self.name, self.key_id, self.public_key)

    def sign(self, body: bytes) -> bytes:
        """The 64-byte Ed25519 signature over ``body``."""
        return self.private_key.sign(body)


@dataclass(frozen=True)
class Checkpoint:
    """A tree size and the root of the log's first ``size`` leaves, for one log (origin)."""

    origin: str
    size: int
    root: bytes


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Strict standard base64 (padding required, no stray characters, canonical)."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"{what} is not valid base64: {text!r}") from None
    if _b64(data) != text:
        raise NoteError(f"{what} is not canonical base64: {text!r}")
    return data


def check_key_name(name: str) -> None:
    """A key name (the log's origin) is non-empty, has no whitespace and no '+'."""
    if not name:
        raise NoteError("a key name may not be empty")
    if any(char.isspace() for char in name) or "+" in name:
        raise NoteError(f"a key name may contain neither whitespace nor '+': {name!r}")


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4]: ties a signature line to its key."""
    material = name.encode("utf-8") + b"\n" + ED25519_TYPE + public_key
    return hashlib.sha256(material).digest()[:KEY_ID_SIZE]


def generate_signer(name: str) -> SignerKey:
    """A fresh Ed25519 signer for the log called ``name``."""
    seed = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return signer_from_seed(name, seed)


def signer_from_seed(name: str, seed: bytes) -> SignerKey:
    """The signer whose 32-byte Ed25519 private seed is ``seed``."""
    check_key_name(name)
    if len(seed) != ED25519_KEY_SIZE:
        raise NoteError(f"an Ed25519 seed has {ED25519_KEY_SIZE} bytes, not {len(seed)}")
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return SignerKey(name, key_id(name, public_key), private_key)


def _parse_key_id(text: str) -> bytes:
    if len(text) != 2 * KEY_ID_SIZE or any(char not in string.hexdigits for char in text):
        raise NoteError(f"a key id is {2 * KEY_ID_SIZE} hex characters, not {text!r}")
    return bytes.fromhex(text)


def _parse_typed_key(text: str, what: str) -> bytes:
    """Decode base64(0x01 || 32 bytes) and return the 32 bytes."""
    data = _unb64(text, what)
    if data[:1] != ED25519_TYPE:
        raise NoteError(f"{what} is not an Ed25519 key (type byte 0x01 expected)")
    if len(data) != 1 + ED25519_KEY_SIZE:
        raise NoteError(f"{what} has {len(data) - 1} key bytes, not {ED25519_KEY_SIZE}")
    return data[1:]


def parse_verifier_key(text: str) -> VerifierKey:
    """Read ``<name>+<key id hex>+<base64(0x01 || public key)>``."""
    parts = text.strip().split("+", 2)  # base64 may itself contain '+'
    if len(parts) != 3:
        raise NoteError(f"a verifier key reads <name>+<8 hex key id>+<base64 key>: {text!r}")
    name, id_text, key_text = parts
    check_key_name(name)
    claimed_id = _parse_key_id(id_text)
    public_key = _parse_typed_key(key_text, f"the key of verifier key {name}")
    if key_id(name, public_key) != claimed_id:
        raise NoteError(f"verifier key {name}: key id {id_text} does not match the key")
    return VerifierKey(name, claimed_id, public_key)


def parse_signer_key(text: str) -> SignerKey:
    """Read ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``."""
    stripped = text.strip()
    if not stripped.startswith(PRIVATE_KEY_PREFIX):
        raise NoteError(f"a signer key starts with {PRIVATE_KEY_PREFIX!r}")
    parts = stripped[len(PRIVATE_KEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise NoteError("a signer key reads PRIVATE+KEY+<name>+<8 hex key id>+<base64 seed>")
    name, id_text, seed_text = parts
    check_key_name(name)
    claimed_id = _parse_key_id(id_text)
    signer = signer_from_seed(name, _parse_typed_key(seed_text, f"the seed of signer key {name}"))
    if signer.key_id != claimed_id:
        raise NoteError(f"signer key {name}: key id {id_text} does not match the key")
    return signer


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The three-line tlog-checkpoint text: origin, tree size, base64 root."""
    check_key_name(origin)
    if size < 0:
        raise NoteError(f"a tree size cannot be negative: {size}")
    if len(root) != ROOT_SIZE:
        raise NoteError(f"a root has {ROOT_SIZE} bytes, not {len(root)}")
    return f"{origin}\n{size}\n{_b64(root)}\n"


MAX_SIZE_DIGITS = 19
"""A tree size fits in 63 bits; longer numbers are refused before they are parsed."""


def parse_checkpoint(body: str) -> Checkpoint:
    """Read a checkpoint body; exactly three lines, no extensions, canonical numbers."""
    if not body.endswith("\n"):
        raise NoteError("a checkpoint ends with a newline")
    lines = body[:-1].split("\n")
    if len(lines) != 3:
        raise NoteError(f"a checkpoint has 3 lines (origin, size, root), not {len(lines)}")
    origin, size_text, root_text = lines
    check_key_name(origin)
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or len(size_text) > MAX_SIZE_DIGITS
        or size_text != str(int(size_text))
    ):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal without leading zeros")
    root = _unb64(root_text, "the checkpoint root")
    if len(root) != ROOT_SIZE:
        raise NoteError(f"the checkpoint root has {len(root)} bytes, not {ROOT_SIZE}")
    return Checkpoint(origin, int(size_text), root)


def _check_text(text: str) -> None:
    """Valid UTF-8 with no ASCII control character other than newline (as signed notes are)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("a note is not valid UTF-8") from None
    if any(char < " " and char != "\n" for char in text):
        raise NoteError("a note may hold no control character other than newline")


def _check_body(body: str) -> None:
    """Note text: newline-terminated, and clean as ``_check_text`` says."""
    if not body.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    _check_text(body)


def sign_note(body: str, signer: SignerKey) -> str:
    """body + blank line + ``— <name> base64(key id || signature)``."""
    _check_body(body)
    signature = signer.sign(body.encode("utf-8"))
    return f"{body}\n{SIGNATURE_PREFIX}{signer.name} {_b64(signer.key_id + signature)}\n"


@dataclass(frozen=True)
class _SignatureLine:
    name: str
    key_id: bytes
    signature: bytes


def _parse_signature_line(line: str) -> _SignatureLine:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"a signature line starts with an em dash and a space: {line!r}")
    fields = line[len(SIGNATURE_PREFIX) :].split(" ")
    if len(fields) != 2:
        raise NoteError(f"a signature line reads '\u2014 <name> <base64>': {line!r}")
    name, encoded = fields
    check_key_name(name)
    data = _unb64(encoded, f"the signature by {name}")
    if len(data) <= KEY_ID_SIZE:
        raise NoteError(f"the signature by {name} is too short ({len(data)} bytes)")
    return _SignatureLine(name, data[:KEY_ID_SIZE], data[KEY_ID_SIZE:])


def split_note(note: str) -> tuple[str, list[str]]:
    """Body and signature lines, split at the last blank line; nothing is verified."""
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("a signed note has a blank line between its text and its signatures")
    body, signatures = note[: cut + 1], note[cut + 2 :]
    if not signatures.endswith("\n"):
        raise NoteError("a signed note ends with a signature line and a newline")
    return body, signatures[:-1].split("\n")


def open_note(note: str, keys: Sequence[VerifierKey]) -> tuple[str, VerifierKey]:
    """The note's text and the first known key that signed it.

    Every signature line must be well formed; a signature by a known (name, key id) must
    verify; at least one must come from a known key. Lines by unknown keys are ignored, so
    others (witnesses, a second idara key) may cosign."""
    _check_text(note)
    body, lines = split_note(note)
    known = {(key.name, key.key_id): key for key in keys}
    verified: VerifierKey | None = None
    for signature in (_parse_signature_line(line) for line in lines):
        key = known.get((signature.name, signature.key_id))
        if key is None:
            continue
        if not key.verifies(body.encode("utf-8"), signature.signature):
            raise NoteError(
                f"the signature by {key.name}+{key.key_id.hex()} does not verify: "
                "the note was changed after it was signed"
            )
        verified = verified or key
    if verified is None:
        raise NoteError("the note has no signature by a known key")
    return body, verified
