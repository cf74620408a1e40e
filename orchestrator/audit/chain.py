"""Appending to the audit chain, inside the caller's transaction.

An event is written in the same transaction as the change it records, so a change is never
committed without its entry, nor an entry without its change. Call :func:`record` after the
transaction's other writes, just before its commit: the chain's lock (the ``audit_head`` row)
is then held only for the insert and the commit, and no transaction waits for a row while
holding it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session, col

from orchestrator.audit.format import entry_hash, format_ts
from orchestrator.audit.models import AuditEntry, AuditHead
from orchestrator.db import utcnow

HEAD_ID = 1
_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
_ENTRIES = AuditEntry.__table__  # type: ignore[attr-defined]
# Built once and run on the session's connection (Core, not the ORM's bulk paths): the chain
# is appended to on every state change, so the statements' construction showed in profiles.
_ADVANCE = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID)
    .values(seq=_HEAD.c.seq + 1)
    .returning(_HEAD.c.seq, _HEAD.c.entry_hash)
)
_APPEND = insert(_ENTRIES)
_SET_TIP = update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(entry_hash=bindparam("tip"))


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
    session.flush()  # the ORM's pending writes go first, before the chain's lock is taken
    connection = session.connection()
    seq, prev_hash = connection.execute(_ADVANCE).one()
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
    connection.execute(_APPEND, entry)
    connection.execute(_SET_TIP, {"tip": entry["entry_hash"]})
    return entry


def size(session: Session) -> int:
    """How many entries the chain holds."""
    return int(
        session.execute(select(col(AuditHead.seq)).where(col(AuditHead.id) == HEAD_ID)).scalar_one()
    )
