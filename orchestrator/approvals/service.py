"""Opening, deciding and escalating approvals. A decision is one transaction: the approval,
the step, the draft's correction and the case move together or not at all. The case and its
steps move through :mod:`orchestrator.cases.lifecycle`, from ``awaiting_approval`` only; the
approval's own status (pending, approved, rejected, cancelled) is this module's."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from orchestrator.approvals.models import Approval, ApprovalStatus, Decision
from orchestrator.approvals.schemas import ApprovalPublic, DecisionCreate
from orchestrator.audit import events
from orchestrator.auth.actor import Actor
from orchestrator.cases import lifecycle
from orchestrator.cases.models import Case, CaseStatus, CaseStep, StepStatus
from orchestrator.db import as_utc, utc, utcnow
from orchestrator.errors import Conflict, Forbidden, InvalidInput, NotFound
from orchestrator.procedures import service as procedures
from orchestrator.procedures.schemas import HumanApprovalStep, duration_seconds


def open_approval(
    session: Session, case: Case, step: CaseStep, spec: HumanApprovalStep, draft: CaseStep | None
) -> Approval:
    """Create the pending approval for a step (once: a second call returns the first)."""
    existing = session.exec(
        select(Approval).where(Approval.case_id == case.id, Approval.step_name == spec.name)
    ).first()
    if existing is not None:
        return existing
    now = utcnow()
    assert step.id is not None
    approval = Approval(
        id=str(uuid.uuid4()),
        case_id=case.id,
        step_id=step.id,
        step_name=spec.name,
        role=spec.role,
        group=spec.group,
        original_group=spec.group,
        escalate_to=spec.escalate_to,
        draft_step=draft.name if draft else None,
        editable_fields=list(spec.editable_fields) if draft else [],
        original=draft.output if draft else None,
        created_at=now,
        due_at=now + timedelta(seconds=duration_seconds(spec.due)),
    )
    session.add(approval)
    events.approval_opened(session, approval)
    session.commit()
    return approval


def get_approval(session: Session, approval_id: str, actor: Actor) -> Approval:
    """The approval, when ``actor`` may decide it; a supervisor of another group is refused."""
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise NotFound(f"no approval with id {approval_id!r}")
    _check_decider(approval, actor)
    return approval


def inbox(session: Session, actor: Actor, status: ApprovalStatus | None) -> list[Approval]:
    """The approvals for the groups the actor decides for, oldest due first."""
    if not actor.has_role("supervisor"):
        raise Forbidden(f"{actor.name} is not a supervisor; only supervisors have an inbox")
    query = select(Approval).where(col(Approval.group).in_(sorted(actor.groups)))
    if status is not None:
        query = query.where(Approval.status == status)
    return list(session.exec(query.order_by(col(Approval.due_at))))


def decide(session: Session, approval_id: str, actor: Actor, data: DecisionCreate) -> Approval:
    approval = get_approval(session, approval_id, actor)
    _check_decider(approval, actor)
    if approval.status != ApprovalStatus.pending:
        when = f"{utc(approval.decided_at):%Y-%m-%d %H:%M} UTC" if approval.decided_at else ""
        raise Conflict(
            f"this approval is already {approval.status}"
            + (f" by {approval.decided_by} on {when}" if approval.decided_by else ""),
            status=approval.status,
        )
    edited = _checked_edit(approval, data)
    reason = (data.reason or "").strip() or None
    if data.decision == Decision.reject and not reason:
        raise InvalidInput("a rejection needs a reason: say why in 'reason'")
    now = utcnow()
    _claim(session, approval, data.decision, actor, reason, edited, now)
    if data.decision == Decision.reject:
        _reject_case(session, approval, actor, reason or "", now)
    else:
        _continue_case(session, approval, actor, data.decision, reason, edited, now)
    _record_decision(session, approval, actor, data.decision, reason, edited)
    session.commit()
    session.refresh(approval)
    return approval


def _record_decision(
    session: Session,
    approval: Approval,
    actor: Actor,
    decision: Decision,
    reason: str | None,
    edited: dict[str, Any] | None,
) -> None:
    """The decision, the approval step's end and, for a rejection, the case's end: one
    transaction with the decision itself."""
    step_ended = events.step_finished(session, approval.step_id, actor=actor.name)
    events.approval_decided(session, approval, actor.name, decision, reason, edited)
    step_ended.record(session)
    if decision == Decision.reject:
        events.case_changed(
            session,
            approval.case_id,
            "case.rejected",
            actor.name,
            {"step": approval.step_name, "approval_id": approval.id},
        )


def _check_decider(approval: Approval, actor: Actor) -> None:
    if not actor.has_role(approval.role):
        raise Forbidden(
            f"{actor.name} is not a {approval.role}; only a {approval.role} of the group "
            f"{approval.group} can decide this approval"
        )
    if approval.group not in actor.groups:
        raise Forbidden(
            f"this approval is for the group {approval.group}; {actor.name} decides for: "
            f"{', '.join(sorted(actor.groups)) or 'no group'}"
        )


def _checked_edit(approval: Approval, data: DecisionCreate) -> dict[str, Any] | None:
    if data.decision != Decision.edit:
        if data.edit:
            raise InvalidInput("'edit' is only allowed with the decision 'edit'")
        return None
    if approval.draft_step is None or approval.original is None:
        raise InvalidInput("this approval has no draft to edit; approve or reject it")
    if not data.edit:
        raise InvalidInput(
            f"an edit needs the corrected fields in 'edit' (any of: "
            f"{', '.join(approval.editable_fields)})"
        )
    errors = []
    for name, value in data.edit.items():
        if name not in approval.editable_fields:
            errors.append(f"{name}: not editable (editable: {', '.join(approval.editable_fields)})")
        elif not value.strip():
            errors.append(f"{name}: empty")
    if errors:
        raise InvalidInput("the edit is invalid", errors=errors)
    return {**approval.original, **data.edit}


def _claim(
    session: Session,
    approval: Approval,
    decision: Decision,
    actor: Actor,
    reason: str | None,
    edited: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Mark the approval decided only if it is still pending: two decisions cannot both win."""
    status = ApprovalStatus.rejected if decision == Decision.reject else ApprovalStatus.approved
    result = session.execute(
        update(Approval)
        .where(col(Approval.id) == approval.id, col(Approval.status) == ApprovalStatus.pending)
        .values(
            status=status,
            decision=decision,
            decided_by=actor.name,
            decided_at=now,
            reason=reason,
            edited=edited,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise Conflict("this approval was decided by someone else a moment ago")


def _move_case(session: Session, case_id: str, to: CaseStatus, **values: Any) -> None:
    """Move the case on from the approval it waits for; a 409 when it no longer waits."""
    if not lifecycle.move_case(session, case_id, to, from_=CaseStatus.awaiting_approval, **values):
        session.rollback()
        case = session.get(Case, case_id)
        raise Conflict(
            f"the case is {case.status if case else 'gone'}, not awaiting approval; "
            "nothing was changed"
        )


def _end_step(session: Session, approval: Approval, to: StepStatus, **values: Any) -> None:
    """The approval step's end, from ``awaiting_approval`` only; a 409 when it no longer
    waits."""
    if not lifecycle.move_step(
        session, approval.step_id, to, from_=StepStatus.awaiting_approval, **values
    ):
        session.rollback()
        step = session.get(CaseStep, approval.step_id)
        raise Conflict(
            f"the step {approval.step_name} is {step.status if step else 'gone'}, not awaiting "
            "approval; nothing was changed"
        )


def _continue_case(
    session: Session,
    approval: Approval,
    actor: Actor,
    decision: Decision,
    reason: str | None,
    edited: dict[str, Any] | None,
    now: datetime,
) -> None:
    verb = "edited and approved" if decision == Decision.edit else "approved"
    _move_case(
        session,
        approval.case_id,
        CaseStatus.queued,
        status_detail=f"{approval.step_name} {verb} by {actor.display_name}; continuing",
        next_attempt_at=now,
        attempts=0,
    )
    output = {
        "decision": "edited" if decision == Decision.edit else "approved",
        "decided_by": actor.name,
        "decided_by_name": actor.display_name,
        "decided_at": now.isoformat(),
        "reason": reason,
    }
    _end_step(session, approval, StepStatus.succeeded, output=output, finished_at=now)
    if edited is not None:
        session.execute(
            update(CaseStep)
            .where(col(CaseStep.case_id) == approval.case_id)
            .where(col(CaseStep.name) == approval.draft_step)
            .values(edited_output=edited)
        )


def _reject_case(
    session: Session, approval: Approval, actor: Actor, reason: str, now: datetime
) -> None:
    _move_case(
        session,
        approval.case_id,
        CaseStatus.rejected,
        status_detail=f"{approval.step_name} rejected by {actor.display_name}: {reason}"[:500],
        finished_at=now,
    )
    output = {"decision": "rejected", "decided_by": actor.name, "reason": reason}
    _end_step(session, approval, StepStatus.rejected, output=output, finished_at=now)
    lifecycle.move_steps(session, approval.case_id, StepStatus.cancelled)  # they never run


def cancel_open_approvals(session: Session, case_id: str) -> None:
    session.execute(
        update(Approval)
        .where(col(Approval.case_id) == case_id, col(Approval.status) == ApprovalStatus.pending)
        .values(status=ApprovalStatus.cancelled, decided_at=utcnow())
    )


def escalate_overdue(session: Session, now: datetime) -> tuple[int, int]:
    """Hand overdue approvals to their escalation target (once), flag the others overdue.

    Returns ``(escalated, newly overdue)``."""
    rows = session.exec(
        select(Approval)
        .where(Approval.status == ApprovalStatus.pending)
        .where(col(Approval.due_at) <= now)
    ).all()
    escalated: list[tuple[Approval, str, datetime]] = []
    flagged = 0
    for approval in rows:
        if approval.escalate_to and approval.escalations == 0:
            was_due = utc(approval.due_at)
            if _escalate(session, approval, approval.escalate_to, now):
                escalated.append((approval, approval.escalate_to, was_due))
        elif not approval.overdue:
            approval.overdue = True
            session.add(approval)
            flagged += 1
    for approval, target, was_due in escalated:  # the chain's lock last: see audit.chain
        events.approval_escalated(session, approval, target, was_due)
    session.commit()
    return len(escalated), flagged


def _escalate(session: Session, approval: Approval, target: str, now: datetime) -> bool:
    """Hand a still-pending approval to ``target`` (once); False when it was decided or
    escalated meanwhile."""
    period = utc(approval.due_at) - utc(approval.created_at)
    was_due = utc(approval.due_at)
    moved = session.execute(
        update(Approval)
        .where(col(Approval.id) == approval.id, col(Approval.escalations) == 0)
        .where(col(Approval.status) == ApprovalStatus.pending)
        .values(group=target, escalations=1, escalated_at=now, due_at=now + period, overdue=True)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(Case)
        .where(col(Case.id) == approval.case_id)
        .values(
            status_detail=f"awaiting approval by {target} (escalated: "
            f"{approval.original_group} did not decide by {was_due:%Y-%m-%d %H:%M} UTC)",
            updated_at=now,
        )
    )
    return True


def mark_overdue_cases(session: Session, now: datetime) -> int:
    result = session.execute(
        update(Case)
        .where(col(Case.due_at) <= now, col(Case.overdue).is_(False))
        .where(col(Case.status).not_in(sorted(lifecycle.CLOSED_CASE_STATUSES)))
        .values(overdue=True)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def to_public(session: Session, approval: Approval, base_url: str) -> ApprovalPublic:
    case = session.get(Case, approval.case_id)
    assert case is not None
    steps = session.exec(select(CaseStep).where(CaseStep.case_id == case.id)).all()
    procedure = procedures.find(session, case.procedure_name, case.procedure_version)
    assert procedure is not None
    spec = procedures.definition_of(procedure).step(approval.step_name)
    shown_names = spec.show if isinstance(spec, HumanApprovalStep) else []
    shown = {s.name: s.effective_output for s in steps if s.name in shown_names and s.output}
    return ApprovalPublic(
        id=approval.id,
        case_id=case.id,
        case_reference=case.reference,
        procedure=case.procedure_name,
        procedure_version=case.procedure_version,
        language=case.language,
        step=approval.step_name,
        role=approval.role,
        group=approval.group,
        original_group=approval.original_group,
        escalate_to=approval.escalate_to,
        escalations=approval.escalations,
        status=approval.status,
        overdue=approval.overdue
        or (approval.status == ApprovalStatus.pending and utc(approval.due_at) <= utcnow()),
        created_at=utc(approval.created_at),
        due_at=utc(approval.due_at),
        escalated_at=as_utc(approval.escalated_at),
        decision=approval.decision,
        decided_by=approval.decided_by,
        decided_at=as_utc(approval.decided_at),
        reason=approval.reason,
        draft_step=approval.draft_step,
        editable_fields=approval.editable_fields,
        original=approval.original,
        edited=approval.edited,
        request_text=case.request_text,
        applicant=case.applicant,
        shown=shown,
        url=f"{base_url}/api/v1/approvals/{approval.id}",
    )
