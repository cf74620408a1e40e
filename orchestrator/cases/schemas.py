"""Request and public response shapes for cases (no table is returned as-is)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.cases.models import Case, CaseStep
from orchestrator.db import as_utc


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure: str = Field(min_length=1, max_length=100, examples=["citizen-request-triage"])
    text: str = Field(description="The citizen's request, as written")
    language: Literal["fr", "ar", "en"] | None = Field(
        default=None, description="Language of the request; detected when omitted"
    )
    applicant: dict[str, str] = Field(default_factory=dict)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the request text is empty")
        return value


class StepPublic(BaseModel):
    name: str
    position: int
    kind: str
    status: str
    output: dict[str, Any] | None
    notes: list[str] | None
    error: str | None
    model: str | None
    model_sha256: str | None
    node: str | None
    queue: str | None
    prompt_ref: str | None
    prompt_sha256: str | None
    output_sha256: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    model_ms: float | None
    tokens_per_s: float | None
    latency_ms: float | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, step: CaseStep) -> StepPublic:
        data = step.model_dump()
        data["started_at"] = as_utc(step.started_at)
        data["finished_at"] = as_utc(step.finished_at)
        return cls.model_validate(data)


class CaseSummary(BaseModel):
    id: str
    reference: str
    procedure: str
    procedure_version: int
    language: str
    status: str
    status_detail: str
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    url: str

    @classmethod
    def of(cls, case: Case, base_url: str) -> CaseSummary:
        return cls(**_summary_fields(case, base_url))


class CasePublic(CaseSummary):
    request_text: str
    applicant: dict[str, Any]
    started_at: datetime | None
    attempts: int
    prefect_flow_run_id: str | None
    steps: list[StepPublic]

    @classmethod
    def with_steps(cls, case: Case, steps: list[CaseStep], base_url: str) -> CasePublic:
        return cls(
            **_summary_fields(case, base_url),
            request_text=case.request_text,
            applicant=case.applicant,
            started_at=as_utc(case.started_at),
            attempts=case.attempts,
            prefect_flow_run_id=case.prefect_flow_run_id,
            steps=[StepPublic.of(step) for step in steps],
        )


class CaseList(BaseModel):
    items: list[CaseSummary]
    total: int
    limit: int
    offset: int


def _summary_fields(case: Case, base_url: str) -> dict[str, Any]:
    return {
        "id": case.id,
        "reference": case.reference,
        "procedure": case.procedure_name,
        "procedure_version": case.procedure_version,
        "language": case.language,
        "status": case.status,
        "status_detail": case.status_detail,
        "error": case.error,
        "created_at": as_utc(case.created_at),
        "updated_at": as_utc(case.updated_at),
        "finished_at": as_utc(case.finished_at),
        "url": f"{base_url}/api/v1/cases/{case.id}",
    }
