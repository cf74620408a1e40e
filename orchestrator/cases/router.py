from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import FileResponse

from orchestrator.auth.deps import FileCase, ManageCases, ReadCases, ReadDocuments
from orchestrator.cases import service
from orchestrator.cases.models import CaseStatus
from orchestrator.cases.schemas import (
    CaseAction,
    CaseCreate,
    CaseList,
    CasePublic,
    CaseSummary,
)
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.errors import NotFound

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("", response_model=CasePublic, status_code=201)
def create_case(
    data: CaseCreate,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    actor: FileCase,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> CasePublic:
    """File a citizen's request for the clerk's unit. The case is stored before it is queued
    for the engine.

    Send an ``Idempotency-Key`` header to make a retried submission return the same case.
    Filing faster than the per-user limit gets 429 with ``Retry-After``.
    """
    case, created = service.create_case(session, data, settings, actor, idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    case, steps = service.get_case(session, case.id, actor)
    response.headers["Location"] = f"/api/v1/cases/{case.id}"
    return CasePublic.with_steps(case, steps, settings.api_base_url)


@router.get("/{case_id}", response_model=CasePublic)
def get_case(
    case_id: str, session: SessionDep, settings: SettingsDep, actor: ReadCases
) -> CasePublic:
    """A case (by id or reference) with its status and every step's result."""
    case, steps = service.get_case(session, case_id, actor)
    return CasePublic.with_steps(case, steps, settings.api_base_url)


@router.get("", response_model=CaseList)
def list_cases(
    session: SessionDep,
    settings: SettingsDep,
    actor: ReadCases,
    status: CaseStatus | None = None,
    procedure: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> CaseList:
    """The cases the caller may see, newest first."""
    rows, total = service.list_cases(session, actor, status, procedure, limit, offset)
    items = [CaseSummary.of(row, settings.api_base_url) for row in rows]
    return CaseList(items=items, total=total, limit=limit, offset=offset)


@router.post("/{case_id}/resume", response_model=CasePublic)
def resume_case(
    case_id: str, session: SessionDep, settings: SettingsDep, actor: ManageCases
) -> CasePublic:
    """Run a failed case again from its failed step; the finished steps are not re-run."""
    case = service.resume_case(session, case_id, actor)
    case, steps = service.get_case(session, case.id, actor)
    return CasePublic.with_steps(case, steps, settings.api_base_url)


@router.post("/{case_id}/cancel", response_model=CasePublic)
def cancel_case(
    case_id: str,
    session: SessionDep,
    settings: SettingsDep,
    actor: ManageCases,
    data: CaseAction | None = None,
) -> CasePublic:
    """Stop a case that has not ended; its open approvals are withdrawn."""
    case = service.cancel_case(session, case_id, data.reason if data else None, actor)
    case, steps = service.get_case(session, case.id, actor)
    return CasePublic.with_steps(case, steps, settings.api_base_url)


MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


@router.get("/{case_id}/documents/{step}.{fmt}", response_class=FileResponse)
def get_document(
    case_id: str, step: str, fmt: str, session: SessionDep, actor: ReadDocuments
) -> FileResponse:
    """A delivered document (``pdf`` or ``html``) of a case."""
    if fmt not in MEDIA_TYPES:
        raise NotFound(f"no document format {fmt!r}; use pdf or html")
    case, steps = service.get_case(session, case_id, actor)
    found = next((s for s in steps if s.name == step and s.kind == "deliver"), None)
    if found is None or not found.output or found.status != "succeeded":
        raise NotFound(f"case {case.reference} has no delivered document {step!r}")
    path = Path(found.output[fmt])
    if not path.is_file():
        raise NotFound(f"the document file of {case.reference} is missing on this server")
    return FileResponse(
        path, media_type=MEDIA_TYPES[fmt], filename=f"{case.reference}-{step}.{fmt}"
    )
