"""C2SP signed notes and checkpoints: keys, signing, opening, and every way to get it wrong."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agents.signed_note import (
    Checkpoint,
    NoteError,
    checkpoint_body,
    generate_signer,
    key_id,
    open_note,
    parse_checkpoint,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
    signer_from_seed,
)

ORIGIN = "audit.example.gov/idara"
ROOT = bytes(range(32))

# The example key and note of Go's golang.org/x/mod/sumdb/note documentation: proof that
# idara's notes are byte-compatible with the reference implementation.
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)

GO_PUBLIC = base64.b64decode(GO_VERIFIER.split("+")[2])[1:]


def _typed(key_type: int, key: bytes) -> str:
    """base64(type byte || key), as key texts write keys."""
    return base64.b64encode(bytes([key_type]) + key).decode()


def test_sign_and_open_round_trip() -> None:
    signer = generate_signer(ORIGIN)
    body = checkpoint_body(ORIGIN, 42, ROOT)
    note = sign_note(body, signer)
    opened, key = open_note(note, [signer.verifier])
    assert opened == body
    assert key == signer.verifier
    assert parse_checkpoint(opened) == Checkpoint(ORIGIN, 42, ROOT)


def test_signed_note_byte_layout() -> None:
    signer = signer_from_seed(ORIGIN, b"\x07" * 32)
    body = checkpoint_body(ORIGIN, 3, ROOT)
    assert body == f"{ORIGIN}\n3\n{base64.b64encode(ROOT).decode()}\n"
    note = sign_note(body, signer)
    head, signature_line = note.split("\n\n")
    assert head + "\n" == body
    assert signature_line.startswith(f"\u2014 {ORIGIN} ")
    assert signature_line.endswith("\n")
    blob = base64.b64decode(signature_line.split(" ")[2])
    assert len(blob) == 4 + 64
    assert blob[:4] == signer.key_id
    Ed25519PrivateKey.from_private_bytes(b"\x07" * 32).public_key().verify(blob[4:], body.encode())


def test_notes_match_go_sumdb_note() -> None:
    verifier = parse_verifier_key(GO_VERIFIER)
    signer = parse_signer_key(GO_SIGNER)
    assert signer.verifier == verifier
    body, key = open_note(GO_NOTE, [verifier])
    assert key == verifier
    assert sign_note(body, signer) == GO_NOTE  # Ed25519 is deterministic


def test_key_id_is_the_documented_hash() -> None:
    seed = hashlib.sha256(b"key id test").digest()
    public = (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    by_hand = hashlib.sha256(ORIGIN.encode() + b"\n" + b"\x01" + public).digest()[:4]
    assert key_id(ORIGIN, public) == by_hand
    signer = signer_from_seed(ORIGIN, seed)
    assert signer.key_id == by_hand
    assert signer.verifier.text == (f"{ORIGIN}+{by_hand.hex()}+{_typed(1, public)}")
    assert parse_verifier_key(GO_VERIFIER).key_id.hex() == "c74f20a3"


def test_key_texts_round_trip() -> None:
    # Fifty keys: base64 key material often holds a '+', which must not confuse parsing.
    for _ in range(50):
        signer = generate_signer(ORIGIN)
        assert signer.text.startswith(f"PRIVATE+KEY+{ORIGIN}+{signer.key_id.hex()}+")
        again = parse_signer_key(signer.text)
        assert (again.name, again.key_id, again.seed) == (signer.name, signer.key_id, signer.seed)
        assert parse_verifier_key(signer.verifier.text) == signer.verifier
        assert parse_verifier_key(signer.verifier.text + "\n") == signer.verifier


def test_tampered_body_is_rejected() -> None:
    signer = generate_signer(ORIGIN)
    note = sign_note(checkpoint_body(ORIGIN, 10, ROOT), signer)
    forged = note.replace("\n10\n", "\n11\n", 1)
    with pytest.raises(NoteError, match="does not verify: the note was changed"):
        open_note(forged, [signer.verifier])


def test_signature_by_another_key_of_the_same_name_is_rejected() -> None:
    signer, impostor = generate_signer(ORIGIN), generate_signer(ORIGIN)
    note = sign_note(checkpoint_body(ORIGIN, 10, ROOT), impostor)
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(note, [signer.verifier])


def test_a_known_key_id_with_a_bad_signature_is_rejected() -> None:
    signer = generate_signer(ORIGIN)
    body = checkpoint_body(ORIGIN, 10, ROOT)
    bogus = base64.b64encode(signer.key_id + b"\x00" * 64).decode()
    note = f"{body}\n\u2014 {ORIGIN} {bogus}\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note, [signer.verifier])


def test_note_signed_only_by_unknown_keys_is_rejected() -> None:
    stranger = generate_signer("witness.example.org")
    note = sign_note(checkpoint_body(ORIGIN, 10, ROOT), stranger)
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(note, [generate_signer(ORIGIN).verifier])
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(note, [])


def test_unknown_cosignatures_are_ignored() -> None:
    signer, witness = generate_signer(ORIGIN), generate_signer("witness.example.org")
    body = checkpoint_body(ORIGIN, 10, ROOT)
    note = sign_note(body, signer) + sign_note(body, witness).split("\n\n")[1]
    assert open_note(note, [signer.verifier]) == (body, signer.verifier)
    assert open_note(note, [witness.verifier]) == (body, witness.verifier)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("- audit.example.gov/idara AAAA", "starts with an em dash"),
        ("\u2014 audit.example.gov/idara", "reads"),
        ("\u2014 audit.example.gov/idara not*base64", "not valid base64"),
        ("\u2014 audit.example.gov/idara AAAA", "too short"),
        ("\u2014 audit.example.gov/idara  AAAAAAAA", "reads"),
        ("\u2014 a+b AAAAAAAA", "neither whitespace nor"),
        ("", "ends with a signature line"),
    ],
)
def test_malformed_signature_lines_are_rejected(line: str, message: str) -> None:
    signer = generate_signer(ORIGIN)
    note = sign_note(checkpoint_body(ORIGIN, 10, ROOT), signer) + line + "\n"
    with pytest.raises(NoteError, match=message):
        open_note(note, [signer.verifier])


def test_notes_without_signatures_or_final_newline_are_rejected() -> None:
    signer = generate_signer(ORIGIN)
    note = sign_note(checkpoint_body(ORIGIN, 10, ROOT), signer)
    with pytest.raises(NoteError, match="blank line"):
        open_note(checkpoint_body(ORIGIN, 10, ROOT), [signer.verifier])
    with pytest.raises(NoteError, match="ends with a signature line"):
        open_note(note[:-1], [signer.verifier])
    with pytest.raises(NoteError, match="control character"):
        open_note(note.replace("\n10\n", "\n10\r\n"), [signer.verifier])


@pytest.mark.parametrize("name", ["", "audit log", "audit\tlog", "audit\u00a0log", "a+b"])
def test_key_names_with_whitespace_or_plus_are_rejected(name: str) -> None:
    with pytest.raises(NoteError, match="key name"):
        generate_signer(name)
    with pytest.raises(NoteError, match="key name"):
        checkpoint_body(name, 1, ROOT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("audit.example.gov", "reads <name>"),
        ("audit.example.gov+c74f20a3", "reads <name>"),
        ("bad name+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "whitespace"),
        ("PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex"),
        ("PeterNeumann+c74f20zz+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex"),
        ("PeterNeumann+c74f20a3+ARpc2Qc!", "not valid base64"),
        (f"PeterNeumann+c74f20a3+{_typed(2, GO_PUBLIC)}", "not an Ed25519"),
        (f"PeterNeumann+c74f20a3+{_typed(1, GO_PUBLIC[:30])}", "has 30 key bytes"),
        ("PeterNeumann+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("Peter+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
    ],
)
def test_malformed_verifier_keys_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_verifier_key(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GO_VERIFIER, "starts with 'PRIVATE\\+KEY\\+'"),
        ("PRIVATE+KEY+PeterNeumann+c74f20a3", "reads PRIVATE"),
        (f"PRIVATE+KEY+PeterNeumann+c74f20a3+{_typed(1, b'x' * 16)}", "has 16 key bytes"),
        ("PRIVATE+KEY+Peter+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", "not match"),
    ],
)
def test_malformed_signer_keys_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_signer_key(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{ORIGIN}\n10\n{base64.b64encode(ROOT).decode()}", "ends with a newline"),
        (f"{ORIGIN}\n10\n{base64.b64encode(ROOT).decode()}\nextension\n", "3 lines"),
        (f"{ORIGIN}\n010\n{base64.b64encode(ROOT).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n10\n{base64.b64encode(ROOT[:31]).decode()}\n", "31 bytes"),
        (f"{ORIGIN}\n10\n{base64.b64encode(ROOT).decode().rstrip('=')}\n", "base64"),
        # Same bytes, but the padding bits are not zero: a second spelling of one root.
        (f"{ORIGIN}\n10\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", "not canonical"),
    ],
)
def test_malformed_checkpoints_are_rejected(body: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        parse_checkpoint(body)


def test_checkpoint_body_refuses_bad_values() -> None:
    with pytest.raises(NoteError, match="negative"):
        checkpoint_body(ORIGIN, -1, ROOT)
    with pytest.raises(NoteError, match="32 bytes"):
        checkpoint_body(ORIGIN, 1, ROOT[:16])
    assert parse_checkpoint(checkpoint_body(ORIGIN, 0, ROOT)).size == 0


def test_a_checkpoint_with_a_huge_size_is_refused_before_it_is_parsed() -> None:
    body = f"idara.local/audit\n{'9' * 5000}\n{base64.b64encode(bytes(32)).decode()}\n"
    with pytest.raises(NoteError, match="not a decimal"):
        parse_checkpoint(body)
