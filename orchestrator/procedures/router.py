from __future__ import annotations

from fastapi import APIRouter

from orchestrator.auth.deps import ReadProcedures
from orchestrator.deps import SessionDep
from orchestrator.procedures import service
from orchestrator.procedures.schemas import ProcedurePublic

router = APIRouter(prefix="/api/v1/procedures", tags=["procedures"])


@router.get("", response_model=list[ProcedurePublic])
def list_procedures(session: SessionDep, _: ReadProcedures) -> list[ProcedurePublic]:
    """The newest published version of every procedure."""
    return [service.to_public(row) for row in service.list_latest(session)]
