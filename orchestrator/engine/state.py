"""The engine's side of the case lifecycle: what it reads of a case, and its writes, each
committed at once. Every status change of a case or a step is a move of
:mod:`orchestrator.cases.lifecycle`; a case moves here only from ``running`` (or ``queued``, when
claimed), so a case cancelled meanwhile is never overwritten."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.audit import events
from orchestrator.cases import lifecycle
from orchestrator.cases.models import Case, CaseStatus, CaseStep, StepStatus
from orchestrator.db import utcnow
from orchestrator.procedures.models import Procedure
from orchestrator.procedures.schemas import ProcedureDefinition

MAX_ENGINE_ATTEMPTS = 5


@dataclass
class CaseRun:
    """Everything a flow needs about one case, read once at its start."""

    case: Case
    definition: ProcedureDefinition
    steps: dict[str, CaseStep]


def load_run(session: Session, case_id: str) -> CaseRun:
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(f"case {case_id} vanished")
    procedure = session.get(Procedure, case.procedure_id)
    assert procedure is not None
    steps = session.exec(select(CaseStep).where(CaseStep.case_id == case_id)).all()
    return CaseRun(
        case=case,
        definition=ProcedureDefinition.model_validate(procedure.definition),
        steps={step.name: step for step in steps},
    )


def claim_due_cases(session: Session, limit: int) -> list[tuple[str, str]]:
    """Move up to ``limit`` due queued cases to running; an UPDATE per case makes claims atomic.

    Returns ``(case id, reference)`` pairs of the cases this call claimed."""
    now = utcnow()
    candidates = session.exec(
        select(Case.id, Case.reference)
        .where(Case.status == CaseStatus.queued)
        .where((col(Case.next_attempt_at).is_(None)) | (col(Case.next_attempt_at) <= now))
        .order_by(col(Case.created_at))
        .limit(limit)
    ).all()
    claimed = []
    for case_id, reference in candidates:
        if lifecycle.move_case(
            session,
            case_id,
            CaseStatus.running,
            status_detail="starting",
            updated_at=now,
            started_at=now,
            attempts=Case.attempts + 1,
        ):
            claimed.append((case_id, reference))
    session.commit()
    return claimed


def requeue_orphans(
    session: Session,
    running_here: Collection[str] = (),
    detail: str = "requeued after an engine restart",
) -> int:
    """Cases marked running that no thread runs go back to the queue: at engine start, those a
    dead engine left; later, any but ``running_here`` (the cases this engine's threads run)."""
    others = [col(Case.id).not_in(list(running_here))] if running_here else []
    count = lifecycle.move_cases(
        session,
        CaseStatus.queued,
        *others,
        from_=CaseStatus.running,
        status_detail=detail,
        next_attempt_at=utcnow(),
        updated_at=utcnow(),
    )
    session.commit()
    return count


def set_case(
    session: Session,
    case_id: str,
    to: CaseStatus | None = None,
    event: tuple[str, dict[str, Any]] | None = None,
    **values: Any,
) -> bool:
    """Write a case the engine is running: move it to ``to`` (or only write ``values``), with
    the audit ``event`` (kind, data) the change makes. A case cancelled meanwhile is left as it
    is; returns whether it was still running."""
    if to is None:
        moved = lifecycle.update_case(session, case_id, while_in=CaseStatus.running, **values)
    else:
        moved = lifecycle.move_case(session, case_id, to, from_=CaseStatus.running, **values)
    if moved and event is not None:
        events.case_changed(session, case_id, event[0], events.ENGINE, event[1])
    session.commit()
    return moved


def case_detail(case_id: str, detail: str) -> Callable[[Session], None]:
    """The running case's status line, for the ``also`` of a step's write
    (:func:`lifecycle.write_step`): written in the step change's transaction rather than one
    of its own."""

    def write(session: Session) -> None:
        lifecycle.update_case(session, case_id, while_in=CaseStatus.running, status_detail=detail)

    return write


def case_status(session: Session, case_id: str) -> str:
    status = session.exec(select(Case.status).where(Case.id == case_id)).first()
    return status or CaseStatus.cancelled


def pause_for_approval(session: Session, case_id: str, detail: str) -> None:
    set_case(session, case_id, CaseStatus.awaiting_approval, status_detail=detail)


def set_step(
    session: Session,
    step_id: int,
    finished: bool = False,
    messages: list[dict[str, str]] | None = None,
    also: Callable[[Session], None] | None = None,
    **values: Any,
) -> None:
    """Write a step's fields (its queue, its task), committed with whatever ``also`` records;
    a ``status`` among ``values`` moves the step as :func:`lifecycle.write_step` does any
    move (a ``finished`` step's end is recorded in the audit log)."""
    to = values.pop("status", None)
    lifecycle.write_step(
        session, step_id, to, finished=finished, messages=messages, also=also, **values
    )


def record_step_started(session: Session, case: Case, step_id: int, attempt: int) -> None:
    step = session.get(CaseStep, step_id, populate_existing=True)
    assert step is not None
    events.step_started(session, case, step, attempt)
    session.commit()


def complete_case(session: Session, case_id: str) -> None:
    set_case(
        session,
        case_id,
        CaseStatus.completed,
        event=("case.completed", {}),
        status_detail="all steps done",
        finished_at=utcnow(),
        error=None,
    )


def fail_case(session: Session, case_id: str, error: str) -> None:
    set_case(
        session,
        case_id,
        CaseStatus.failed,
        event=("case.failed", {"error_sha256": events.keep(session, "error", error, case_id)}),
        status_detail="failed",
        error=error,
        finished_at=utcnow(),
    )


def requeue_case(session: Session, case_id: str, reason: str, count_attempt: bool = True) -> None:
    """Put a case back in the queue with a backoff, or fail it after too many engine errors."""
    case = session.get(Case, case_id)
    if case is None:
        return
    if count_attempt and case.attempts >= MAX_ENGINE_ATTEMPTS:
        fail_case(session, case_id, f"gave up after {case.attempts} attempts: {reason}")
        return
    delay = min(60, 2 ** min(case.attempts, 6))
    set_case(
        session,
        case_id,
        CaseStatus.queued,
        status_detail=f"waiting: {reason}; retrying in {delay} s",
        next_attempt_at=utcnow() + timedelta(seconds=delay),
    )


def mark_step_failed(session: Session, step: CaseStep, error: str) -> None:
    """Record a step's failure with no kind to retry on (the engine's own failures name
    theirs: :func:`lifecycle.fail_step`)."""
    assert step.id is not None
    lifecycle.fail_step(session, step.id, "agent_error", error)


def skip_step(session: Session, step_id: int, reason: str) -> None:
    now = utcnow()
    lifecycle.write_step(
        session,
        step_id,
        StepStatus.skipped,
        finished=True,
        notes=[reason],
        output=None,
        started_at=now,
        finished_at=now,
    )
