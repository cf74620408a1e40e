from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from orchestrator.cases import service
from orchestrator.cases.models import CaseStatus
from orchestrator.cases.schemas import CaseCreate, CaseList, CasePublic, CaseSummary
from orchestrator.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("", response_model=CasePublic, status_code=201)
def create_case(
    data: CaseCreate,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> CasePublic:
    """File a citizen's request. The case is stored before it is queued for the engine.

    Send an ``Idempotency-Key`` header to make a retried submission return the same case.
    """
    case, created = service.create_case(session, data, settings, idempotency_key)
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    case, steps = service.get_case(session, case.id)
    response.headers["Location"] = f"/api/v1/cases/{case.id}"
    return CasePublic.with_steps(case, steps, settings.api_base_url)


@router.get("/{case_id}", response_model=CasePublic)
def get_case(case_id: str, session: SessionDep, settings: SettingsDep) -> CasePublic:
    """A case with its status and every step's result."""
    case, steps = service.get_case(session, case_id)
    return CasePublic.with_steps(case, steps, settings.api_base_url)


@router.get("", response_model=CaseList)
def list_cases(
    session: SessionDep,
    settings: SettingsDep,
    status: CaseStatus | None = None,
    procedure: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> CaseList:
    """Cases, newest first."""
    rows, total = service.list_cases(session, status, procedure, limit, offset)
    items = [CaseSummary.of(row, settings.api_base_url) for row in rows]
    return CaseList(items=items, total=total, limit=limit, offset=offset)
