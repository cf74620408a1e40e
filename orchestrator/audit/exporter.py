"""Writing what an auditor takes away: an export of the log, or inclusion proofs for a case.
Both are read back by :mod:`orchestrator.audit.verify`, with no database (docs/audit-format.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from orchestrator.audit import chain, checkpoints, keys, merkle
from orchestrator.audit.format import format_ts, write_export, write_proof
from orchestrator.audit.models import AuditEntry
from orchestrator.cases.service import find_case
from orchestrator.db import utc, utcnow
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.settings import Settings

BATCH = 2000


@dataclass
class ExportSummary:
    out: Path
    entries: int
    first_seq: int | None
    last_seq: int | None
    leaves: int
    checkpoints: int


def export(
    session: Session,
    settings: Settings,
    out: Path,
    actor: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExportSummary:
    """Export the entries between ``since`` and ``until`` with what verifies them.

    The export is recorded first and a checkpoint is signed, so every exported entry, the
    export's own entry included when in range, is covered by a signed root."""
    if since and until and since >= until:
        raise InvalidInput("--since must be before --until")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(f"{out} is not an empty directory; give a new one")
    query = {"since": _ts(since), "until": _ts(until), "out": str(out)}
    chain.record(session, "audit.exported", actor, query)
    session.commit()
    checkpoints.create(session, settings)
    signed = checkpoints.all_up_to(session)
    covered = signed[-1].tree_size if signed else 0  # entries appended since wait for the next
    first, last = _seq_range(session, since, until, covered)
    leaves = max([last or 0, *(c.tree_size for c in signed)])
    write_export(
        out,
        {
            "origin": settings.audit_origin,
            "first_seq": first,
            "last_seq": last,
            "since": query["since"],
            "until": query["until"],
            "exported_at": format_ts(utcnow()),
        },
        _entries(session, first, last),
        (h.hex() for h in checkpoints.entry_hashes(session, leaves)),
        [{"note": c.note, "created_at": format_ts(utc(c.created_at))} for c in signed],
        keys.verifier_keys(session),
    )
    count = 0 if first is None or last is None else last - first + 1
    return ExportSummary(out, count, first, last, leaves, len(signed))


def prove(session: Session, settings: Settings, case_key: str, out: Path, actor: str) -> int:
    """Write inclusion proofs of every entry of a case against a fresh checkpoint; return how
    many entries are proved."""
    case = find_case(session, case_key)
    chain.record(session, "audit.proved", actor, {"out": str(out)}, case_id=case.id)
    session.commit()
    checkpoints.create(session, settings)
    checkpoint = checkpoints.latest(session)
    if checkpoint is None:
        raise NotFound("the audit log has no checkpoint yet")
    leaves = checkpoints.entry_hashes(session, checkpoint.tree_size)
    rows = session.execute(
        select(AuditEntry)
        .where(col(AuditEntry.case_id) == case.id)
        .where(col(AuditEntry.seq) <= checkpoint.tree_size)
        .order_by(col(AuditEntry.seq))
    ).scalars()
    proofs: list[dict[str, Any]] = [
        {
            "entry": row.canonical(),
            "leaf_index": row.seq - 1,
            "tree_size": checkpoint.tree_size,
            "path": [h.hex() for h in merkle.inclusion_proof(row.seq - 1, leaves)],
        }
        for row in rows
    ]
    write_proof(out, case.id, checkpoint.note, keys.verifier_keys(session), proofs)
    return len(proofs)


def _seq_range(
    session: Session, since: datetime | None, until: datetime | None, covered: int
) -> tuple[int | None, int | None]:
    """First and last seq with ``since <= ts < until`` among the first ``covered`` entries (those
    a checkpoint signs); every entry between them is exported."""
    query = select(func.min(AuditEntry.seq), func.max(AuditEntry.seq)).where(
        col(AuditEntry.seq) <= covered
    )
    if since:
        query = query.where(col(AuditEntry.ts) >= format_ts(since))
    if until:
        query = query.where(col(AuditEntry.ts) < format_ts(until))
    first, last = session.execute(query).one()
    return first, last


def _entries(session: Session, first: int | None, last: int | None) -> Iterator[dict[str, Any]]:
    if first is None or last is None:
        return
    start = first
    while start <= last:
        rows = session.execute(
            select(AuditEntry)
            .where(col(AuditEntry.seq) >= start, col(AuditEntry.seq) <= last)
            .order_by(col(AuditEntry.seq))
            .limit(BATCH)
        ).scalars()
        batch = [row.canonical() for row in rows]
        if not batch:
            return
        yield from batch
        start = batch[-1]["seq"] + 1
        session.expunge_all()


def _ts(value: datetime | None) -> str | None:
    return format_ts(value) if value else None
