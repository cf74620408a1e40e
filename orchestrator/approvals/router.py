from __future__ import annotations

from fastapi import APIRouter

from orchestrator.approvals import service
from orchestrator.approvals.models import ApprovalStatus
from orchestrator.approvals.schemas import ApprovalList, ApprovalPublic, DecisionCreate
from orchestrator.auth.deps import DecideApprovals
from orchestrator.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/approvals", tags=["approvals"])


@router.get("", response_model=ApprovalList)
def inbox(
    session: SessionDep,
    settings: SettingsDep,
    actor: DecideApprovals,
    status: ApprovalStatus | None = ApprovalStatus.pending,
) -> ApprovalList:
    """The caller's inbox: approvals for the groups they decide for, the most urgent first."""
    rows = service.inbox(session, actor, status)
    items = [service.to_public(session, row, settings.api_base_url) for row in rows]
    return ApprovalList(items=items, total=len(items))


@router.get("/{approval_id}", response_model=ApprovalPublic)
def get_approval(
    approval_id: str, session: SessionDep, settings: SettingsDep, actor: DecideApprovals
) -> ApprovalPublic:
    """One approval with what the approver is shown (the request, the outputs, the draft);
    only to a supervisor of its group."""
    approval = service.get_approval(session, approval_id, actor)
    return service.to_public(session, approval, settings.api_base_url)


@router.post("/{approval_id}", response_model=ApprovalPublic)
def decide(
    approval_id: str,
    data: DecisionCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: DecideApprovals,
) -> ApprovalPublic:
    """Approve, reject (a reason is required) or edit the draft and approve it. The case
    continues from its next step (or ends, when rejected)."""
    approval = service.decide(session, approval_id, actor, data)
    return service.to_public(session, approval, settings.api_base_url)
