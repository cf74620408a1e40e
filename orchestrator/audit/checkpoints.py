"""Signed checkpoints: every ``audit_checkpoint_entries`` new entries, or when new entries are
``audit_checkpoint_s`` old, the Merkle root over all entry hashes is signed as a C2SP note."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session, col

from agents.signed_note import checkpoint_body, sign_note
from orchestrator.audit import chain, keys, merkle
from orchestrator.audit.format import format_ts
from orchestrator.audit.models import AuditCheckpoint, AuditEntry
from orchestrator.db import insert_for, utcnow
from orchestrator.settings import Settings


class ChainBroken(Exception):
    """The entries table does not hold every entry up to the chain's head."""


def latest(session: Session) -> AuditCheckpoint | None:
    return (
        session.execute(
            select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size).desc()).limit(1)
        )
        .scalars()
        .first()
    )


def all_up_to(session: Session, size: int | None = None) -> list[AuditCheckpoint]:
    query = select(AuditCheckpoint).order_by(col(AuditCheckpoint.tree_size))
    if size is not None:
        query = query.where(col(AuditCheckpoint.tree_size) <= size)
    return list(session.execute(query).scalars())


def entry_hashes(session: Session, size: int) -> list[bytes]:
    """The first ``size`` entry hashes, in order: the Merkle tree's leaves."""
    rows = session.execute(
        select(col(AuditEntry.entry_hash))
        .where(col(AuditEntry.seq) <= size)
        .order_by(col(AuditEntry.seq))
    ).scalars()
    hashes = [bytes.fromhex(value) for value in rows]
    if len(hashes) != size:
        raise ChainBroken(f"the chain's head is entry {size} but only {len(hashes)} are stored")
    return hashes


def create(session: Session, settings: Settings) -> AuditCheckpoint | None:
    """Sign a checkpoint over every entry so far; None when the last one already covers them."""
    if chain.size(session) == 0:
        return None
    signer = keys.signer(session, settings)  # first: making a key appends an entry
    size = chain.size(session)
    last = latest(session)
    if last is not None and last.tree_size >= size:
        return None
    root = merkle.root(entry_hashes(session, size))
    note = sign_note(checkpoint_body(settings.audit_origin, size, root), signer)
    session.execute(
        insert_for(session, AuditCheckpoint)
        .values(
            tree_size=size,
            root_hash=root.hex(),
            key_id=signer.key_id.hex(),
            note=note,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    session.commit()
    return session.get(AuditCheckpoint, size)


def due(session: Session, settings: Settings, now: datetime) -> bool:
    """Enough new entries, or new entries old enough, to sign a checkpoint."""
    size = chain.size(session)
    last = latest(session)
    covered = last.tree_size if last is not None else 0
    if size <= covered:
        return False
    if size - covered >= settings.audit_checkpoint_entries:
        return True
    first_new = session.execute(
        select(col(AuditEntry.ts)).where(col(AuditEntry.seq) == covered + 1)
    ).scalar_one_or_none()
    cutoff = format_ts(now - timedelta(seconds=settings.audit_checkpoint_s))
    return first_new is not None and first_new <= cutoff


def create_when_due(session: Session, settings: Settings, now: datetime | None = None) -> bool:
    if due(session, settings, now or utcnow()):
        return create(session, settings) is not None
    return False
