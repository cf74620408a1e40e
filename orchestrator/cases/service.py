"""Filing, reading, resuming and cancelling cases. A case and all its planned steps are written
in one transaction, the case ``queued`` and its steps ``pending``; a resume or a cancel moves
them through :mod:`orchestrator.cases.lifecycle`, from the status the case was read in."""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import false, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from agents.language import detect_language, reply_language
from orchestrator.approvals import service as approvals
from orchestrator.approvals.models import Approval
from orchestrator.audit import events
from orchestrator.auth.actor import Actor
from orchestrator.cases import lifecycle
from orchestrator.cases.models import Case, CaseStatus, CaseStep, StepStatus
from orchestrator.cases.schemas import ApplicantValue, CaseCreate
from orchestrator.db import utcnow
from orchestrator.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
)
from orchestrator.procedures import service as procedures
from orchestrator.procedures.models import Procedure
from orchestrator.procedures.rules import parse_date
from orchestrator.procedures.schemas import (
    ApplicantField,
    LlmStep,
    ProcedureDefinition,
    duration_seconds,
    text_in,
)
from orchestrator.settings import Settings

RATE_WINDOW = timedelta(minutes=1)


def request_sha256(data: CaseCreate) -> str:
    # reply_language is left out when not given, so a key's digest is what it was before 0009
    unset = {"reply_language"} if data.reply_language is None else set()
    body = data.model_dump(mode="json", exclude=unset)
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create_case(
    session: Session,
    data: CaseCreate,
    settings: Settings,
    actor: Actor,
    idempotency_key: str | None = None,
) -> tuple[Case, bool]:
    """File a case for the actor's unit. Returns ``(case, created)``; a repeated idempotency
    key returns the first case (to its filer only)."""
    digest = request_sha256(data)
    if idempotency_key:
        existing = _by_idempotency_key(session, idempotency_key, digest, actor)
        if existing is not None:
            return existing, False
    _refuse_when_too_fast(session, settings, actor)
    if len(data.text) > settings.max_request_chars:
        raise PayloadTooLarge(
            f"the request text has {len(data.text)} characters; the limit is "
            f"{settings.max_request_chars}",
            limit=settings.max_request_chars,
        )
    procedure = _procedure_or_404(session, data.procedure)
    definition = ProcedureDefinition.model_validate(procedure.definition)
    applicant = _checked_applicant(data.applicant, definition.applicant_fields)
    _refuse_when_queue_full(session, settings)
    case = _new_case(data, procedure, applicant, digest, idempotency_key)
    case.filed_by, case.unit = actor.name, actor.unit
    if definition.deadline:
        case.due_at = case.created_at + timedelta(seconds=duration_seconds(definition.deadline))
    session.add(case)
    for position, step in enumerate(definition.steps):
        model = step.model if isinstance(step, LlmStep) else None
        session.add(
            CaseStep(
                case_id=case.id, position=position, name=step.name, kind=step.kind, model=model
            )
        )
    try:
        session.flush()  # a concurrent retry with the same key fails here, before the entry
        events.case_created(session, case, [step.name for step in definition.steps], actor.name)
        session.commit()
    except IntegrityError:
        session.rollback()
        if idempotency_key:  # a concurrent retry with the same key won the race
            existing = _by_idempotency_key(session, idempotency_key, digest, actor)
            if existing is not None:
                return existing, False
        raise
    return case, True


def _refuse_when_too_fast(session: Session, settings: Settings, actor: Actor) -> None:
    """429 once a user has filed ``submissions_per_minute`` cases in the last minute, so that
    one user cannot fill the nodes' queues; Retry-After says when the oldest leaves the window.
    Counted in the database, so it holds across API processes."""
    since = utcnow() - RATE_WINDOW
    recent = session.exec(
        select(Case.created_at)
        .where(Case.filed_by == actor.name, col(Case.created_at) > since)
        .order_by(col(Case.created_at))
    ).all()
    limit = settings.submissions_per_minute
    if len(recent) >= limit:
        oldest = recent[0] if recent[0].tzinfo else recent[0].replace(tzinfo=since.tzinfo)
        wait = max(1, math.ceil((oldest - since).total_seconds()))
        raise TooManyRequests(
            f"{actor.name} filed {len(recent)} cases in the last minute (the limit is {limit}); "
            f"retry after {wait} s",
            retry_after_s=wait,
        )


def _refuse_when_queue_full(session: Session, settings: Settings) -> None:
    """503 while the engine's backlog is at its limit, so a flood waits at the clients (who
    retry) rather than in the database. Checked after the input, so that bad input gets its 4xx
    at once; a replayed idempotent request never gets here. Filings racing this count can pass
    the limit by at most the requests in flight."""
    queued = session.exec(
        select(func.count()).select_from(Case).where(Case.status == CaseStatus.queued)
    ).one()
    if queued >= settings.max_queued_cases:
        raise ServiceUnavailable(
            f"{queued} cases are waiting for the engine (the limit is "
            f"{settings.max_queued_cases}); retry after {settings.retry_after_s} s",
            retry_after_s=settings.retry_after_s,
        )


def _new_case(
    data: CaseCreate,
    procedure: Procedure,
    applicant: dict[str, Any],
    digest: str,
    idempotency_key: str | None,
) -> Case:
    case_id = str(uuid.uuid4())
    now = utcnow()
    written = data.language or detect_language(data.text)
    assert procedure.id is not None
    # filed queued, as the model's default: the lifecycle's first status (its steps pending)
    return Case(
        id=case_id,
        reference=f"IDR-{now:%Y%m%d}-{case_id[:8].upper()}",
        procedure_id=procedure.id,
        procedure_name=procedure.name,
        procedure_version=procedure.version,
        language=reply_language(written, data.reply_language),
        request_language=written,
        request_text=data.text,
        applicant=applicant,
        status_detail="queued for the engine",
        idempotency_key=idempotency_key,
        request_sha256=digest,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )


def _by_idempotency_key(session: Session, key: str, digest: str, actor: Actor) -> Case | None:
    existing = session.exec(select(Case).where(Case.idempotency_key == key)).first()
    if existing is not None and existing.filed_by != actor.name:
        raise Conflict("this Idempotency-Key is already in use; use a new key for a new request")
    if existing is not None and existing.request_sha256 != digest:
        raise Conflict(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request",
            case_id=existing.id,
        )
    return existing


def _procedure_or_404(session: Session, name: str) -> Procedure:
    procedure = procedures.latest(session, name)
    if procedure is None:
        available = sorted(row.name for row in procedures.list_latest(session))
        raise NotFound(
            f"unknown procedure {name!r}; available: {', '.join(available) or 'none'}",
            available=available,
        )
    return procedure


def _checked_applicant(
    values: dict[str, ApplicantValue], fields: list[ApplicantField]
) -> dict[str, Any]:
    """Check the applicant fields against the procedure; report every problem at once."""
    known = {field.name: field for field in fields}
    errors = [
        _error(name, f"unknown field; expected one of: {', '.join(known) or 'none'}", "unknown")
        for name in values
        if name not in known
    ]
    cleaned: dict[str, Any] = {}
    for field in fields:
        raw = values.get(field.name)
        label = text_in(field.label, "en")
        if raw is None or raw == "" or raw == [] or (isinstance(raw, str) and not raw.strip()):
            if field.required:
                errors.append(_error(field.name, f"{label} is required", "missing"))
            continue
        value, problem = _field_value(field, raw)
        if problem:
            errors.append(_error(field.name, f"{label} {problem}", "invalid"))
        else:
            cleaned[field.name] = value
    if errors:
        raise InvalidInput("the applicant fields are invalid", errors=errors)
    return cleaned


def _error(name: str, message: str, kind: str) -> dict[str, Any]:
    return {"loc": ["body", "applicant", name], "msg": message, "type": kind}


def _field_value(field: ApplicantField, raw: ApplicantValue) -> tuple[Any, str | None]:
    """The stored value of one field, or the reason it is refused."""
    allowed = [choice.value for choice in field.choices]
    if field.type == "choices":
        items = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",")]
        wrong = [item for item in items if item not in allowed]
        if wrong:
            return None, f"has unknown choices {wrong}; allowed: {', '.join(allowed)}"
        return sorted(set(items)), None
    if isinstance(raw, list):
        return None, "takes one value, not a list"
    text = str(raw).strip()
    if field.type == "integer":
        return _integer(field, text)
    if field.type == "date":
        born = parse_date(text)
        return (born.isoformat(), None) if born else (None, "is not a date (YYYY-MM-DD)")
    if field.type == "choice":
        return (text, None) if text in allowed else (None, f"must be one of: {', '.join(allowed)}")
    if len(text) > field.max_length:
        return None, f"is longer than {field.max_length} characters"
    if field.pattern and not re.fullmatch(field.pattern, text):
        return None, f"has an invalid format (expected {field.pattern})"
    return text, None


def _integer(field: ApplicantField, text: str) -> tuple[Any, str | None]:
    if not re.fullmatch(r"-?[0-9]{1,12}", text):
        return None, "must be a whole number"
    number = int(text)
    if field.minimum is not None and number < field.minimum:
        return None, f"must be at least {field.minimum}"
    if field.maximum is not None and number > field.maximum:
        return None, f"must be at most {field.maximum}"
    return number, None


def find_case(session: Session, key: str) -> Case:
    """A case by its id or its reference (IDR-…)."""
    case = session.get(Case, key)
    if case is None and key.upper().startswith("IDR-"):
        case = session.exec(select(Case).where(Case.reference == key.upper())).first()
    if case is None:
        raise NotFound(f"no case with id or reference {key!r}")
    return case


def visible_case(session: Session, key: str, actor: Actor) -> Case:
    """A case the actor may see; another unit's case is "not found", as if it did not exist."""
    case = find_case(session, key)
    visible = session.exec(select(Case.id).where(Case.id == case.id, *scope(actor))).first()
    if visible is None:
        raise NotFound(f"no case with id or reference {key!r}")
    return case


def scope(actor: Actor) -> list[Any]:
    """The conditions that keep a query to the cases ``actor`` may see: auditors see every case,
    clerks those of their unit (their own without a unit), supervisors those with an approval
    for one of their groups."""
    if actor.has_role("auditor"):
        return []
    allowed: list[Any] = []
    if actor.has_role("clerk"):
        allowed.append(Case.unit == actor.unit if actor.unit else Case.filed_by == actor.name)
    if actor.has_role("supervisor") and actor.groups:
        in_groups = select(Approval.case_id).where(col(Approval.group).in_(sorted(actor.groups)))
        allowed.append(col(Case.id).in_(in_groups))
    return [or_(*allowed)] if allowed else [false()]


def get_case(session: Session, case_id: str, actor: Actor) -> tuple[Case, list[CaseStep]]:
    case = visible_case(session, case_id, actor)
    case_id = case.id
    steps = session.exec(
        select(CaseStep).where(CaseStep.case_id == case_id).order_by(col(CaseStep.position))
    ).all()
    return case, list(steps)


def list_cases(
    session: Session,
    actor: Actor,
    status: str | None,
    procedure: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Case], int]:
    query = select(Case).where(*scope(actor))
    count = select(func.count()).select_from(Case).where(*scope(actor))
    if status:
        query = query.where(Case.status == status)
        count = count.where(Case.status == status)
    if procedure:
        query = query.where(Case.procedure_name == procedure)
        count = count.where(Case.procedure_name == procedure)
    rows = session.exec(
        query.order_by(col(Case.created_at).desc()).offset(offset).limit(limit)
    ).all()
    return rows, int(session.exec(count).one())


def resume_case(session: Session, key: str, actor: Actor) -> Case:
    """Queue a failed case again from its failed step; finished steps are not run again."""
    case = visible_case(session, key, actor)
    if case.status not in lifecycle.RESUMABLE_CASE_STATUSES:
        raise Conflict(
            f"case {case.reference} is {case.status}; only a failed case can be resumed",
            status=case.status,
        )
    failed = session.exec(
        select(CaseStep).where(CaseStep.case_id == case.id, CaseStep.status == StepStatus.failed)
    ).all()
    names = [step.name for step in failed]
    lifecycle.move_steps(session, case.id, StepStatus.pending, from_=StepStatus.failed, error=None)
    _transition(
        session,
        case,
        CaseStatus.queued,
        CaseStatus.failed,
        status_detail=f"resumed from step {', '.join(names) or '(next)'}",
        error=None,
        finished_at=None,
        next_attempt_at=utcnow(),
        attempts=0,
    )
    events.case_changed(session, case.id, "case.resumed", actor.name, {"steps": names})
    session.commit()
    session.refresh(case)
    return case


def cancel_case(session: Session, key: str, reason: str | None, actor: Actor) -> Case:
    case = visible_case(session, key, actor)
    if case.status not in lifecycle.CANCELLABLE_CASE_STATUSES:
        raise Conflict(
            f"case {case.reference} is {case.status}; it can no longer be cancelled",
            status=case.status,
        )
    detail = f"cancelled: {reason}" if reason else "cancelled"
    _transition(
        session,
        case,
        CaseStatus.cancelled,
        case.status,
        status_detail=detail[:500],
        finished_at=utcnow(),
    )
    waiting = session.exec(
        select(CaseStep.id).where(
            CaseStep.case_id == case.id, CaseStep.status == StepStatus.awaiting_approval
        )
    ).all()
    approvals.cancel_open_approvals(session, case.id)
    lifecycle.move_steps(session, case.id, StepStatus.cancelled)  # they never run
    endings = [events.step_finished(session, step_id, actor.name) for step_id in waiting if step_id]
    for ending in endings:
        ending.record(session)
    events.case_changed(
        session, case.id, "case.cancelled", actor.name, {"reason_given": bool(reason)}
    )
    session.commit()
    session.refresh(case)
    return case


def _transition(session: Session, case: Case, to: CaseStatus, read: str, **values: Any) -> None:
    """Move a case only from the status it was ``read`` in; a concurrent change wins with a
    409."""
    if not lifecycle.move_case(session, case.id, to, from_=read, **values):
        session.rollback()
        raise Conflict(f"case {case.reference} changed meanwhile; read it again and retry")
