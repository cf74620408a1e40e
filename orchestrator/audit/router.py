from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from orchestrator.audit import service
from orchestrator.audit.schemas import AuditEventList, AuditStatus, CaseTimeline
from orchestrator.auth.deps import ReadAudit
from orchestrator.deps import SessionDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/events", response_model=AuditEventList)
def list_events(
    session: SessionDep,
    actor: ReadAudit,
    case: Annotated[str | None, Query(max_length=36, description="Case id")] = None,
    by: Annotated[str | None, Query(max_length=200, description="Acting user or process")] = None,
    kind: Annotated[str | None, Query(max_length=60, examples=["step.finished"])] = None,
    model: Annotated[str | None, Query(max_length=100)] = None,
    node: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="Before this time")] = None,
    after_seq: Annotated[int, Query(ge=0, le=2**62, description="Entries after this one")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditEventList:
    """Audit entries in chain order (auditors only; the read is itself recorded)."""
    where = service.EventFilter(case, by, kind, model, node, since, until, after_seq, limit)
    rows = service.list_events(session, actor, where)
    return AuditEventList(
        events=[service.public(row) for row in rows],
        count=len(rows),
        next_after_seq=rows[-1].seq if len(rows) == limit else None,
    )


@router.get("/cases/{case_id}", response_model=CaseTimeline)
def case_timeline(case_id: str, session: SessionDep, actor: ReadAudit) -> CaseTimeline:
    """A case's full timeline (by id or reference), with the data each event refers to."""
    return service.case_timeline(session, actor, case_id)


@router.get("/status", response_model=AuditStatus)
def audit_status(session: SessionDep, actor: ReadAudit) -> AuditStatus:
    """How many entries, the newest signed checkpoint, and the keys that sign."""
    return service.status(session, actor)
