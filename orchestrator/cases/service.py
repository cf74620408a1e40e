"""Filing and reading cases. A case and all its planned steps are written in one transaction."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from agents.language import detect_language
from orchestrator.cases.models import Case, CaseStatus, CaseStep
from orchestrator.cases.schemas import CaseCreate
from orchestrator.db import utcnow
from orchestrator.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from orchestrator.procedures import service as procedures
from orchestrator.procedures.models import Procedure
from orchestrator.procedures.schemas import ApplicantField, ProcedureDefinition
from orchestrator.settings import Settings


def request_sha256(data: CaseCreate) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def create_case(
    session: Session, data: CaseCreate, settings: Settings, idempotency_key: str | None = None
) -> tuple[Case, bool]:
    """File a case. Returns ``(case, created)``; a repeated idempotency key returns the first."""
    digest = request_sha256(data)
    if idempotency_key:
        existing = _by_idempotency_key(session, idempotency_key, digest)
        if existing is not None:
            return existing, False
    if len(data.text) > settings.max_request_chars:
        raise PayloadTooLarge(
            f"the request text has {len(data.text)} characters; the limit is "
            f"{settings.max_request_chars}",
            limit=settings.max_request_chars,
        )
    procedure = _procedure_or_404(session, data.procedure)
    definition = ProcedureDefinition.model_validate(procedure.definition)
    applicant = _checked_applicant(data.applicant, definition.applicant_fields)
    case = _new_case(data, procedure, applicant, digest, idempotency_key)
    session.add(case)
    for position, step in enumerate(definition.steps):
        session.add(
            CaseStep(
                case_id=case.id, position=position, name=step.name, kind=step.kind, model=step.model
            )
        )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if idempotency_key:  # a concurrent retry with the same key won the race
            existing = _by_idempotency_key(session, idempotency_key, digest)
            if existing is not None:
                return existing, False
        raise
    return case, True


def _new_case(
    data: CaseCreate,
    procedure: Procedure,
    applicant: dict[str, str],
    digest: str,
    idempotency_key: str | None,
) -> Case:
    case_id = str(uuid.uuid4())
    now = utcnow()
    assert procedure.id is not None
    return Case(
        id=case_id,
        reference=f"IDR-{now:%Y%m%d}-{case_id[:8].upper()}",
        procedure_id=procedure.id,
        procedure_name=procedure.name,
        procedure_version=procedure.version,
        language=data.language or detect_language(data.text),
        request_text=data.text,
        applicant=applicant,
        status=CaseStatus.queued,
        status_detail="queued for the engine",
        idempotency_key=idempotency_key,
        request_sha256=digest,
        created_at=now,
        updated_at=now,
        next_attempt_at=now,
    )


def _by_idempotency_key(session: Session, key: str, digest: str) -> Case | None:
    existing = session.exec(select(Case).where(Case.idempotency_key == key)).first()
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


def _checked_applicant(values: dict[str, str], fields: list[ApplicantField]) -> dict[str, str]:
    """Check the applicant fields against the procedure; report every problem at once."""
    known = {field.name: field for field in fields}
    errors = [
        {
            "loc": ["body", "applicant", name],
            "msg": f"unknown field; expected one of: {', '.join(known) or 'none'}",
            "type": "unknown_field",
        }
        for name in values
        if name not in known
    ]
    cleaned: dict[str, str] = {}
    for field in fields:
        value = (values.get(field.name) or "").strip()
        loc = ["body", "applicant", field.name]
        if not value:
            if field.required:
                errors.append({"loc": loc, "msg": f"{field.label} is required", "type": "missing"})
            continue
        if len(value) > field.max_length:
            errors.append(
                {
                    "loc": loc,
                    "msg": f"{field.label} is longer than {field.max_length} characters",
                    "type": "too_long",
                }
            )
        elif field.pattern and not re.fullmatch(field.pattern, value):
            errors.append(
                {
                    "loc": loc,
                    "msg": f"{field.label} has an invalid format (expected {field.pattern})",
                    "type": "pattern",
                }
            )
        cleaned[field.name] = value
    if errors:
        raise InvalidInput("the applicant fields are invalid", errors=errors)
    return cleaned


def get_case(session: Session, case_id: str) -> tuple[Case, list[CaseStep]]:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id!r}")
    steps = session.exec(
        select(CaseStep).where(CaseStep.case_id == case_id).order_by(col(CaseStep.position))
    ).all()
    return case, list(steps)


def list_cases(
    session: Session, status: str | None, procedure: str | None, limit: int, offset: int
) -> tuple[Sequence[Case], int]:
    query = select(Case)
    count = select(func.count()).select_from(Case)
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
