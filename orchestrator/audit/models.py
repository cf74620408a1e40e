"""The audit tables. ``audit_entries`` and ``audit_checkpoints`` are append-only: idara never
updates or deletes them, and database triggers refuse it (see migration 0003).
``audit_head`` is the chain's lock and tip; ``audit_payloads`` holds the personal data that the
chain references by hash and that retention may delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text
from sqlmodel import Field, SQLModel

from orchestrator.db import utcnow


class AuditEntry(SQLModel, table=True):
    """One event, chained to the one before it (see docs/audit-format.md)."""

    __tablename__ = "audit_entries"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=60, index=True)
    actor: str = Field(max_length=200, index=True)
    case_id: str | None = Field(default=None, max_length=36, index=True)
    model: str | None = Field(default=None, max_length=100, index=True)
    node: str | None = Field(default=None, max_length=200, index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    entry_hash: str = Field(max_length=64, unique=True)

    def canonical(self) -> dict[str, Any]:
        """The members that are hashed, plus the hash: one line of an export."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "actor": self.actor,
            "case_id": self.case_id,
            "model": self.model,
            "node": self.node,
            "data": self.data,
            "prev_hash": self.prev_hash,
            "entry_hash": self.entry_hash,
        }


class AuditHead(SQLModel, table=True):
    """The chain's tip, one row. Appenders update it first: that row lock (PostgreSQL) or the
    write lock it takes (SQLite) makes appends to the chain one at a time."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    entry_hash: str = Field(max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """A signed Merkle root over the first ``tree_size`` entries (a C2SP signed note)."""

    __tablename__ = "audit_checkpoints"

    tree_size: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    root_hash: str = Field(max_length=64)
    key_id: str = Field(max_length=8)
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class AuditKey(SQLModel, table=True):
    """A public key that signs (or signed) checkpoints, as a C2SP verifier key."""

    __tablename__ = "audit_keys"

    key_id: str = Field(primary_key=True, max_length=8)
    name: str = Field(max_length=200)
    verifier: str = Field(max_length=300)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class AuditPayload(SQLModel, table=True):
    """Personal data an entry refers to by hash (a request, a prompt, an output, an edit).
    Deleted after ``expires_at``; the chain stays verifiable because it holds only the hash."""

    __tablename__ = "audit_payloads"

    sha256: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=30)
    case_id: str | None = Field(default=None, max_length=36, index=True)
    content: Any = Field(default=None, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    expires_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )
