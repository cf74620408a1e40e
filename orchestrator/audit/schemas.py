"""What the audit API returns. Strings are redacted (CIN, phone, e-mail, IBAN/RIB); the
entries as hashed are in an export (``idara audit export``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEventPublic(BaseModel):
    seq: int
    ts: str
    kind: str
    actor: str
    case_id: str | None
    model: str | None
    node: str | None
    data: dict[str, Any]
    prev_hash: str
    entry_hash: str


class AuditEventList(BaseModel):
    events: list[AuditEventPublic]
    count: int
    next_after_seq: int | None = Field(
        description="Pass as after_seq for the next page; null on the last page"
    )


class TimelineEvent(AuditEventPublic):
    payloads: dict[str, Any] = Field(
        default_factory=dict,
        description="The personal data the event refers to by sha256, redacted; null where "
        "retention has deleted it",
    )


class CheckpointPublic(BaseModel):
    tree_size: int
    root_hash: str
    key_id: str
    note: str
    created_at: datetime


class CaseTimeline(BaseModel):
    case_id: str
    reference: str
    procedure: str
    procedure_version: int
    status: str
    events: list[TimelineEvent]
    checkpoint: CheckpointPublic | None = Field(
        description="The newest checkpoint; entries after its tree_size are not yet signed"
    )


class AuditStatus(BaseModel):
    entries: int
    last_checkpoint: CheckpointPublic | None
    unsigned_entries: int
    keys: list[str]
