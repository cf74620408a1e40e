"""Reading the audit log, for auditors. Every read is itself an audit entry."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from agents.guards.pii import redact_value
from orchestrator.audit import chain, checkpoints, keys, payloads
from orchestrator.audit.events import PAYLOAD_KEYS
from orchestrator.audit.format import format_ts
from orchestrator.audit.models import AuditCheckpoint, AuditEntry
from orchestrator.audit.schemas import (
    AuditEventPublic,
    AuditStatus,
    CaseTimeline,
    CheckpointPublic,
    TimelineEvent,
)
from orchestrator.auth.actor import Actor
from orchestrator.cases.service import find_case
from orchestrator.db import utc
from orchestrator.errors import Forbidden, InvalidInput

READER_ROLE = "auditor"


@dataclass
class EventFilter:
    case_id: str | None = None
    actor: str | None = None
    kind: str | None = None
    model: str | None = None
    node: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = 0
    limit: int = 100

    def described(self) -> dict[str, Any]:
        """The filter as it goes into the ``audit.read`` entry."""
        values = {k: v for k, v in asdict(self).items() if v not in (None, 0)}
        return {k: format_ts(v) if isinstance(v, datetime) else v for k, v in values.items()}


def require_reader(actor: Actor) -> None:
    if not actor.has_role(READER_ROLE):
        raise Forbidden(f"{actor.name} is not an auditor; only auditors read the audit log")


def list_events(session: Session, actor: Actor, where: EventFilter) -> list[AuditEntry]:
    require_reader(actor)
    since, until = _moment(where.since, "since"), _moment(where.until, "until")
    if since and until and since >= until:
        raise InvalidInput("'since' must be before 'until'")
    query = select(AuditEntry).where(col(AuditEntry.seq) > where.after_seq)
    for column, value in (
        (AuditEntry.case_id, where.case_id),
        (AuditEntry.actor, where.actor),
        (AuditEntry.kind, where.kind),
        (AuditEntry.model, where.model),
        (AuditEntry.node, where.node),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if since:
        query = query.where(col(AuditEntry.ts) >= since)
    if until:
        query = query.where(col(AuditEntry.ts) < until)
    rows = list(session.execute(query.order_by(col(AuditEntry.seq)).limit(where.limit)).scalars())
    note_read(session, actor, "events", where.described(), len(rows))
    return rows


def case_timeline(session: Session, actor: Actor, case_key: str) -> CaseTimeline:
    """Every entry of a case in order, with the personal data it refers to (redacted)."""
    require_reader(actor)
    case = find_case(session, case_key)
    rows = list(
        session.execute(
            select(AuditEntry)
            .where(col(AuditEntry.case_id) == case.id)
            .order_by(col(AuditEntry.seq))
        ).scalars()
    )
    kept = payloads.fetch_many(session, {d for row in rows for d in _references(row)})
    events = [
        TimelineEvent(
            **public(row).model_dump(),
            payloads={d: redact_value(kept.get(d)) for d in _references(row)},
        )
        for row in rows
    ]
    latest = checkpoints.latest(session)
    timeline = CaseTimeline(
        case_id=case.id,
        reference=case.reference,
        procedure=case.procedure_name,
        procedure_version=case.procedure_version,
        status=case.status,
        events=events,
        checkpoint=checkpoint_public(latest) if latest else None,
    )
    note_read(session, actor, "case timeline", {"case_id": case.id}, len(rows), case.id)
    return timeline


def status(session: Session, actor: Actor) -> AuditStatus:
    require_reader(actor)
    latest = checkpoints.latest(session)
    size = chain.size(session)
    result = AuditStatus(
        entries=size,
        last_checkpoint=checkpoint_public(latest) if latest else None,
        unsigned_entries=size - (latest.tree_size if latest else 0),
        keys=keys.verifier_keys(session),
    )
    note_read(session, actor, "status", {}, 1)
    return result


def note_read(
    session: Session,
    actor: Actor,
    what: str,
    query: dict[str, Any],
    results: int,
    case_id: str | None = None,
) -> None:
    """Record that ``actor`` read the log, then commit."""
    chain.record(
        session,
        "audit.read",
        actor.name,
        {"what": what, "query": query, "results": results},
        case_id=case_id,
    )
    session.commit()


def public(row: AuditEntry) -> AuditEventPublic:
    return AuditEventPublic(**{**row.canonical(), "data": redact_value(row.data)})


def checkpoint_public(row: AuditCheckpoint) -> CheckpointPublic:
    return CheckpointPublic(
        tree_size=row.tree_size,
        root_hash=row.root_hash,
        key_id=row.key_id,
        note=row.note,
        created_at=utc(row.created_at),
    )


def _moment(value: datetime | None, name: str) -> str | None:
    """A time filter as entries write theirs (UTC, fixed width), so it compares as text."""
    if value is None:
        return None
    try:
        return format_ts(value)
    except OverflowError as exc:
        raise InvalidInput(f"'{name}' is out of range once converted to UTC") from exc


def _references(row: AuditEntry) -> list[str]:
    """The payload hashes an entry refers to."""
    return [
        value for key, value in row.data.items() if key in PAYLOAD_KEYS and isinstance(value, str)
    ]
