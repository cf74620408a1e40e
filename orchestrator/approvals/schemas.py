"""Request and public response shapes for approvals."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.approvals.models import Decision
from orchestrator.cases.schemas import not_text_problem


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision = Field(description="approve, reject (with a reason), or edit the draft")
    reason: str | None = Field(default=None, max_length=2000)
    edit: dict[str, str] | None = Field(
        default=None, description="For edit: the draft's fields to replace, e.g. {'letter': …}"
    )

    @field_validator("reason")
    @classmethod
    def _reason_is_text(cls, value: str | None) -> str | None:
        problem = not_text_problem(value) if value else None
        if problem:
            raise ValueError(f"reason {problem}")
        return value

    @field_validator("edit")
    @classmethod
    def _edit_is_text(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, text in (value or {}).items():
            problem = not_text_problem(text)
            if problem:
                raise ValueError(f"edit.{name} {problem}")
        return value


class ApprovalPublic(BaseModel):
    id: str
    case_id: str
    case_reference: str
    procedure: str
    procedure_version: int
    language: str
    step: str
    role: str
    group: str
    original_group: str
    escalate_to: str | None
    escalations: int
    status: str
    overdue: bool
    created_at: datetime
    due_at: datetime
    escalated_at: datetime | None
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    draft_step: str | None
    editable_fields: list[str]
    original: dict[str, Any] | None
    edited: dict[str, Any] | None
    request_text: str
    applicant: dict[str, Any]
    shown: dict[str, Any] = Field(description="Outputs of the steps the procedure shows")
    url: str


class ApprovalList(BaseModel):
    items: list[ApprovalPublic]
    total: int
