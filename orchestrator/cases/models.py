from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from orchestrator.db import utcnow


class CaseStatus(StrEnum):
    """A case's status; which moves between them are allowed, and the sets that group them,
    are :mod:`orchestrator.cases.lifecycle`'s."""

    queued = "queued"
    running = "running"
    awaiting_approval = "awaiting_approval"
    completed = "completed"
    failed = "failed"
    rejected = "rejected"
    cancelled = "cancelled"


class StepStatus(StrEnum):
    """A step's status (see :mod:`orchestrator.cases.lifecycle`)."""

    pending = "pending"
    dispatched = "dispatched"
    running = "running"
    awaiting_approval = "awaiting_approval"
    succeeded = "succeeded"
    skipped = "skipped"
    failed = "failed"
    rejected = "rejected"
    cancelled = "cancelled"


def _ts() -> Any:
    """A nullable, zone-aware timestamp column."""
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class Case(SQLModel, table=True):
    """A citizen's request. Written before anything is dispatched: the database is the truth."""

    __tablename__ = "cases"

    id: str = Field(primary_key=True, max_length=36)
    reference: str = Field(max_length=40, unique=True)
    procedure_id: int = Field(foreign_key="procedures.id", index=True)
    procedure_name: str = Field(max_length=100)
    procedure_version: int
    language: str = Field(max_length=8)
    """The letters' language (fr, ar, en)."""
    request_language: str | None = Field(default=None, max_length=8)
    """The language the request is written in (fr, ar, en, ary, ary-Latn); cases filed before
    0009 have none (their ``language``)."""
    request_text: str = Field(sa_column=Column(Text, nullable=False))
    applicant: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=CaseStatus.queued, max_length=20, index=True)
    status_detail: str = Field(default="", max_length=500)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    idempotency_key: str | None = Field(default=None, max_length=200, unique=True)
    request_sha256: str = Field(max_length=64)
    filed_by: str | None = Field(default=None, max_length=64)
    unit: str | None = Field(default=None, max_length=100, index=True)
    attempts: int = 0
    prefect_flow_run_id: str | None = Field(default=None, max_length=36)
    """The flow run of a case run by a version before 0007 (a flow run per case)."""
    prefect_task_run_id: str | None = Field(default=None, max_length=36)
    """The Prefect task run of the case's latest engine run."""
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    next_attempt_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    overdue: bool = False
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class CaseStep(SQLModel, table=True):
    """One step of one case: what went in, what came out, where and how fast it ran."""

    __tablename__ = "case_steps"
    __table_args__ = (UniqueConstraint("case_id", "name", name="uq_case_steps_case_name"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", index=True, max_length=36)
    position: int
    name: str = Field(max_length=100)
    kind: str = Field(max_length=30)
    status: str = Field(default=StepStatus.pending, max_length=20)
    input: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    output: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    edited_output: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    notes: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    model: str | None = Field(default=None, max_length=100)
    model_sha256: str | None = Field(default=None, max_length=64)
    node: str | None = Field(default=None, max_length=200)
    queue: str | None = Field(default=None, max_length=200)
    task_id: str | None = Field(default=None, max_length=64)
    prompt_ref: str | None = Field(default=None, max_length=200)
    prompt_sha256: str | None = Field(default=None, max_length=64)
    output_sha256: str | None = Field(default=None, max_length=64)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model_ms: float | None = None
    tokens_per_s: float | None = None
    latency_ms: float | None = None
    attempts: int = 0
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()

    @property
    def effective_output(self) -> dict[str, Any] | None:
        """The output later steps read: the approver's correction when there is one."""
        return self.edited_output if self.edited_output is not None else self.output
