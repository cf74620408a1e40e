"""Appending to the audit chain, inside the caller's transaction.

An event is written in the same transaction as the change it records, so a change is never
committed without its entry, nor an entry without its change. Call :func:`record` after the
transaction's other writes, just before its commit: the chain's lock (the ``audit_head`` row)
is then held only for the insert and the commit, and no transaction waits for a row while
holding it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from orchestrator.audit.format import entry_hash, format_ts
from orchestrator.audit.models import AuditEntry, AuditHead
from orchestrator.db import utcnow

HEAD_ID = 1


def record(
    session: Session,
    kind: str,
    actor: str,
    data: dict[str, Any] | None = None,
    *,
    case_id: str | None = None,
    model: str | None = None,
    node: str | None = None,
) -> dict[str, Any]:
    """Append one event; return its canonical form (with ``entry_hash``). Does not commit."""
    session.execute(
        update(AuditHead).where(col(AuditHead.id) == HEAD_ID).values(seq=col(AuditHead.seq) + 1)
    )
    seq, prev_hash = session.execute(
        select(col(AuditHead.seq), col(AuditHead.entry_hash)).where(col(AuditHead.id) == HEAD_ID)
    ).one()
    entry: dict[str, Any] = {
        "seq": seq,
        "ts": format_ts(utcnow()),
        "kind": kind,
        "actor": actor,
        "case_id": case_id,
        "model": model,
        "node": node,
        "data": data or {},
        "prev_hash": prev_hash,
    }
    entry["entry_hash"] = entry_hash(entry)
    session.execute(insert(AuditEntry).values(**entry))
    session.execute(
        update(AuditHead).where(col(AuditHead.id) == HEAD_ID).values(entry_hash=entry["entry_hash"])
    )
    return entry


def size(session: Session) -> int:
    """How many entries the chain holds."""
    return int(
        session.execute(select(col(AuditHead.seq)).where(col(AuditHead.id) == HEAD_ID)).scalar_one()
    )
