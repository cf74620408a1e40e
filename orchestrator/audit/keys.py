"""The Ed25519 key that signs checkpoints: created on first use, rotated on demand.

The signer key lives in a file only the idara user can read (``audit_key_file``); its public
half goes into ``audit_keys`` and into the chain (``audit.key_created``, ``audit.key_rotated``),
so an export carries every key that ever signed, and a rotation cannot go unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlmodel import Session, col, select

from agents.private_files import write_new
from agents.signed_note import SignerKey, generate_signer, parse_signer_key
from orchestrator.audit import chain
from orchestrator.audit.models import AuditKey
from orchestrator.db import insert_for, utcnow
from orchestrator.settings import Settings


class KeyFileError(Exception):
    """The signer key file is unreadable or malformed."""


def signer(session: Session, settings: Settings) -> SignerKey:
    """The current signer; made (and recorded in the chain) when there is none yet."""
    path = settings.effective_audit_key_file
    if not path.exists():
        created = generate_signer(settings.audit_origin)
        if write_new(path, created.text + "\n"):
            _register(session, created, "audit.key_created", {})
    key = _read(path)
    if key.name != settings.audit_origin:
        raise KeyFileError(
            f"{path} signs as {key.name!r} but audit_origin is {settings.audit_origin!r}; "
            "rotate the key (idara audit rotate-key) after changing the origin"
        )
    _ensure_registered(session, key)
    return key


def rotate(session: Session, settings: Settings, actor: str) -> tuple[SignerKey, SignerKey | None]:
    """Replace the signer with a new key; returns ``(new, old)``. The old key stays listed, so
    the checkpoints it signed still verify."""
    path = settings.effective_audit_key_file
    old = _read(path) if path.exists() else None
    new = generate_signer(settings.audit_origin)
    tmp = path.with_suffix(".new")
    tmp.unlink(missing_ok=True)
    write_new(tmp, new.text + "\n")
    data = {"previous": old.verifier.text if old else None}
    _register(session, new, "audit.key_rotated", data, actor)
    os.replace(tmp, path)
    return new, old


def verifier_keys(session: Session) -> list[str]:
    return [
        row.verifier for row in session.exec(select(AuditKey).order_by(col(AuditKey.created_at)))
    ]


def _register(
    session: Session, key: SignerKey, kind: str, data: dict[str, str | None], actor: str = "system"
) -> None:
    _insert_key(session, key)
    chain.record(
        session,
        kind,
        actor,
        {**data, "key": key.verifier.text, "key_id": key.key_id.hex()},
    )
    session.commit()


def _ensure_registered(session: Session, key: SignerKey) -> None:
    """A key file carried over from another installation is listed before it signs."""
    if session.get(AuditKey, key.key_id.hex()) is None:
        _register(session, key, "audit.key_created", {"source": "existing key file"})


def _insert_key(session: Session, key: SignerKey) -> None:
    statement = insert_for(session, AuditKey).values(
        key_id=key.key_id.hex(),
        name=key.name,
        verifier=key.verifier.text,
        created_at=utcnow(),
    )
    session.execute(statement.on_conflict_do_nothing())


def _read(path: Path) -> SignerKey:
    try:
        return parse_signer_key(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"cannot use the audit signing key {path}: {exc}") from exc
