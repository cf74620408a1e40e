"""Personal data kept apart from the chain: a request, a rendered prompt, an output, an edit.

The chain holds only a payload's sha256 (over its canonical JSON, the same hash the workers and
tools compute), so deleting a payload when its retention period ends leaves every entry, and
so the chain, verifiable.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from agents.tools import canonical_sha256
from orchestrator.audit import chain
from orchestrator.audit.models import AuditPayload
from orchestrator.db import insert_for_dialect, utcnow


def store(
    session: Session, kind: str, content: Any, case_id: str | None, retention_days: int
) -> str:
    """Keep ``content`` (once per distinct content); return its sha256. Does not commit."""
    digest = canonical_sha256(content)
    now = utcnow()
    values = {
        "sha256": digest,
        "kind": kind,
        "case_id": case_id,
        "content": content,
        "created_at": now,
        "expires_at": now + timedelta(days=retention_days),
    }
    session.flush()  # as the ORM would before a statement of its own: pending writes first
    connection = session.connection()
    connection.execute(_keep_statement(connection.dialect.name), values)
    return digest


@cache
def _keep_statement(dialect: str) -> Any:
    """The upsert, built once per dialect (it runs for every agent step's prompt and output):
    the same content kept again lives as long as its newest use needs."""
    table = AuditPayload.__table__  # type: ignore[attr-defined]
    statement = insert_for_dialect(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=["sha256"],
        set_={"expires_at": statement.excluded.expires_at},
        where=table.c.expires_at < statement.excluded.expires_at,
    )


def fetch_many(session: Session, digests: set[str]) -> dict[str, Any]:
    """The payloads still kept among ``digests``, by hash."""
    if not digests:
        return {}
    rows = session.execute(
        select(col(AuditPayload.sha256), col(AuditPayload.content)).where(
            col(AuditPayload.sha256).in_(sorted(digests))
        )
    ).all()
    return {digest: content for digest, content in rows}


def purge_expired(session: Session, actor: str, now: datetime | None = None) -> int:
    """Delete the payloads past their retention; the deletion is itself an audit entry."""
    moment = now or utcnow()
    expired = col(AuditPayload.expires_at) <= moment
    count = int(
        session.execute(select(func.count()).select_from(AuditPayload).where(expired)).scalar_one()
    )
    if count:
        chain.record(
            session,
            "audit.payloads_purged",
            actor,
            {"deleted": count, "expired_before": moment.isoformat()},
        )
        session.execute(delete(AuditPayload).where(expired))
    session.commit()
    return count
