from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from orchestrator.db import utcnow


class ApprovalStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"
    edit = "edit"


class Approval(SQLModel, table=True):
    """One request for a human decision on one step of one case."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("case_id", "step_name", name="uq_approvals_case_step"),)

    id: str = Field(primary_key=True, max_length=36)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=36)
    step_id: int = Field(foreign_key="case_steps.id")
    step_name: str = Field(max_length=100)
    role: str = Field(max_length=50)
    group: str = Field(max_length=100, index=True)
    original_group: str = Field(max_length=100)
    escalate_to: str | None = Field(default=None, max_length=100)
    status: str = Field(default=ApprovalStatus.pending, max_length=20, index=True)
    draft_step: str | None = Field(default=None, max_length=100)
    editable_fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    decision: str | None = Field(default=None, max_length=20)
    decided_by: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    original: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    edited: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    escalations: int = 0
    overdue: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    escalated_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
