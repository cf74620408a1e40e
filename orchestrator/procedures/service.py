"""Loading, publishing and looking up procedure versions."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml
from pydantic import ValidationError
from sqlmodel import Session, col, select

from orchestrator.procedures.models import Procedure
from orchestrator.procedures.schemas import ProcedureDefinition, ProcedurePublic


class ProcedureError(Exception):
    """A procedure file is invalid, or conflicts with a published version."""


def definition_sha256(definition: ProcedureDefinition) -> str:
    canonical = json.dumps(definition.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_definition(path: Path) -> ProcedureDefinition:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ProcedureDefinition.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ProcedureError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ProcedureError(f"{path}: {problems}") from exc


def publish(session: Session, definition: ProcedureDefinition) -> tuple[Procedure, bool]:
    """Store a version once. Re-publishing the same content is a no-op; other content is refused."""
    digest = definition_sha256(definition)
    existing = session.exec(
        select(Procedure).where(
            Procedure.name == definition.name, Procedure.version == definition.version
        )
    ).first()
    if existing is not None:
        if existing.definition_sha256 != digest:
            raise ProcedureError(
                f"{definition.name} v{definition.version} is already published with other "
                f"content; published versions are immutable, publish it as a new version"
            )
        return existing, False
    row = Procedure(
        name=definition.name,
        version=definition.version,
        title=definition.title,
        definition=definition.model_dump(mode="json"),
        definition_sha256=digest,
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row, True


def publish_directory(session: Session, directory: Path) -> list[Procedure]:
    """Publish every ``*.yaml`` procedure in ``directory`` (the seeds) that is not there yet."""
    return [publish(session, load_definition(p))[0] for p in sorted(directory.glob("*.yaml"))]


def latest(session: Session, name: str) -> Procedure | None:
    return session.exec(
        select(Procedure).where(Procedure.name == name).order_by(col(Procedure.version).desc())
    ).first()


def list_latest(session: Session) -> list[Procedure]:
    rows = session.exec(select(Procedure).order_by(Procedure.name, col(Procedure.version))).all()
    newest: dict[str, Procedure] = {}
    for row in rows:
        newest[row.name] = row
    return list(newest.values())


def to_public(row: Procedure) -> ProcedurePublic:
    definition = ProcedureDefinition.model_validate(row.definition)
    return ProcedurePublic(
        name=row.name,
        version=row.version,
        title=row.title,
        description=definition.description,
        applicant_fields=definition.applicant_fields,
        steps=[step.name for step in definition.steps],
        published_at=row.published_at,
    )
