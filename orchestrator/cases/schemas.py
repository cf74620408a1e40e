"""Request and public response shapes for cases (no table is returned as-is)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from orchestrator.cases.models import Case, CaseStep
from orchestrator.db import as_utc

ApplicantValue = str | int | list[str]

NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
"""What no written request holds: C0 controls other than tab and line breaks, the two
noncharacters, and surrogates (in a decoded string, only an unpaired one is left). Bidi marks,
RLO and zero-width (non-)joiners are text (Arabic and Persian use them) and are kept."""


def not_text_problem(value: str) -> str | None:
    """Why ``value`` is not plain text (the first offending character and where), or None."""
    found = NOT_TEXT.search(value)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        kind = "an unpaired surrogate"
    elif code < 0x20:
        kind = "a control character"
    else:
        kind = "a noncharacter"
    return f"contains {kind} U+{code:04X} at position {found.start()}; remove it"


def _plain_text(field: str, value: str) -> str:
    problem = not_text_problem(value)
    if problem:
        raise ValueError(f"{field} {problem}")
    return value


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure: str = Field(min_length=1, max_length=100, examples=["citizen-request-triage"])
    text: str = Field(description="The citizen's request, as written")
    language: Literal["fr", "ar", "en", "ary", "ary-Latn"] | None = Field(
        default=None,
        description="Language the request is written in (ary: Darija in Arabic script, "
        "ary-Latn: Darija in Latin script); detected when omitted",
    )
    reply_language: Literal["fr", "ar", "en"] | None = Field(
        default=None,
        description="Language of the letters; omitted: the request's own, Arabic for Darija",
    )
    applicant: dict[str, ApplicantValue] = Field(
        default_factory=dict, description="The procedure's applicant fields"
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the request text is empty")
        return _plain_text("the request text", value)

    @field_validator("procedure")
    @classmethod
    def _procedure_is_text(cls, value: str) -> str:
        return _plain_text("the procedure name", value)

    @field_validator("applicant")
    @classmethod
    def _applicant_is_text(cls, values: dict[str, ApplicantValue]) -> dict[str, ApplicantValue]:
        for name, value in values.items():
            _plain_text("an applicant field name", name)
            label = f"applicant.{name}"
            if isinstance(value, str):
                _plain_text(label, value)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    _plain_text(f"{label}[{index}]", item)
        return values


class StepPublic(BaseModel):
    name: str
    position: int
    kind: str
    status: str
    output: dict[str, Any] | None
    edited_output: dict[str, Any] | None = Field(
        description="The approver's correction of this draft; later steps use it"
    )
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


class DocumentLink(BaseModel):
    step: str
    html_url: str
    pdf_url: str
    pdf_sha256: str
    path: str = Field(description="Where the PDF lies on the control plane")

    @classmethod
    def of(cls, case_id: str, step: CaseStep, base_url: str) -> DocumentLink:
        output = step.output or {}
        url = f"{base_url}/api/v1/cases/{case_id}/documents/{step.name}"
        return cls(
            step=step.name,
            html_url=f"{url}.html",
            pdf_url=f"{url}.pdf",
            pdf_sha256=output.get("pdf_sha256", ""),
            path=output.get("pdf", ""),
        )


class CaseAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class CaseSummary(BaseModel):
    id: str
    reference: str
    procedure: str
    procedure_version: int
    language: str
    """The letters' language (fr, ar, en)."""
    request_language: str
    """The language the request is written in (fr, ar, en, ary, ary-Latn)."""
    status: str
    status_detail: str
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    due_at: datetime | None
    overdue: bool
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
    prefect_task_run_id: str | None
    steps: list[StepPublic]
    documents: list[DocumentLink]

    @classmethod
    def with_steps(cls, case: Case, steps: list[CaseStep], base_url: str) -> CasePublic:
        return cls(
            **_summary_fields(case, base_url),
            request_text=case.request_text,
            applicant=case.applicant,
            started_at=as_utc(case.started_at),
            attempts=case.attempts,
            prefect_flow_run_id=case.prefect_flow_run_id,
            prefect_task_run_id=case.prefect_task_run_id,
            steps=[StepPublic.of(step) for step in steps],
            documents=[
                DocumentLink.of(case.id, step, base_url)
                for step in steps
                if step.kind == "deliver" and step.status == "succeeded" and step.output
            ],
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
        "request_language": case.request_language or case.language,
        "status": case.status,
        "status_detail": case.status_detail,
        "error": case.error,
        "created_at": as_utc(case.created_at),
        "updated_at": as_utc(case.updated_at),
        "finished_at": as_utc(case.finished_at),
        "due_at": as_utc(case.due_at),
        "overdue": case.overdue,
        "url": f"{base_url}/api/v1/cases/{case.id}",
    }
