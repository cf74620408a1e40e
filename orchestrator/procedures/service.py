"""Loading, validating, publishing and looking up procedure versions."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlmodel import Session, col, select

from orchestrator.audit import events
from orchestrator.procedures import checks
from orchestrator.procedures.models import Procedure
from orchestrator.procedures.schemas import (
    DURATION,
    PATH,
    ProcedureDefinition,
    ProcedurePublic,
)


class ProcedureError(Exception):
    """A procedure file is invalid, or conflicts with a published version."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message + "".join(f"\n  {p}" for p in problems))
        self.problems = list(problems)


def definition_sha256(definition: ProcedureDefinition) -> str:
    """Over what the author wrote (defaults left out), so a new optional field added to the
    format later does not change the digest of a version already published."""
    canonical = json.dumps(
        definition.model_dump(mode="json", exclude_unset=True, by_alias=True), sort_keys=True
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_definition(path: Path) -> ProcedureDefinition:
    """Read and check a procedure file; every problem is reported as ``file:line: field: why``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProcedureError(f"{path}: cannot read the file: {exc}") from exc
    return parse_definition(text, str(path))


def parse_definition(text: str, source: str) -> ProcedureDefinition:
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProcedureError(f"{source}: not valid YAML", [str(exc)]) from exc
    try:
        definition = ProcedureDefinition.model_validate(raw)
    except ValidationError as exc:
        found = [_located(source, root, err["loc"], _message(err)) for err in exc.errors()]
        raise ProcedureError(
            f"{source}: {len(found)} problem(s); nothing was published", found
        ) from None
    cross = checks.problems(definition)
    if cross:
        found = [_located(source, root, p.loc, p.message) for p in cross]
        raise ProcedureError(f"{source}: {len(found)} problem(s); nothing was published", found)
    return definition


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field (check its spelling, or see docs/procedure.schema.json)"
    if err["type"] == "string_pattern_mismatch" and err["ctx"].get("pattern") == DURATION:
        return f"{err['input']!r} is not a duration; write it like 30m, 48h or 10d"
    if err["type"] == "string_pattern_mismatch" and err["ctx"].get("pattern") == PATH:
        return f"{err['input']!r} is not a path: applicant.FIELD, case.text or outputs.STEP.FIELD"
    return str(err["msg"])


def _located(source: str, root: yaml.Node | None, loc: Sequence[Any], message: str) -> str:
    line, field = _line_of(root, loc)
    return f"{source}:{line}: {field or '(top level)'}: {message}"


def _line_of(root: yaml.Node | None, loc: Sequence[Any]) -> tuple[int, str]:
    """Walk the YAML node tree along a pydantic ``loc``; parts that are not in the file (the
    union's tag, a missing field) keep the line of the nearest node that is."""
    node, parts = root, []
    for part in loc:
        child = _child(node, part)
        if isinstance(part, int) or child is not None:
            parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
        if child is not None:
            node = child
        elif isinstance(part, str) and part not in {
            "llm",
            "rule",
            "tool",
            "human_approval",
            "deliver",
        }:
            break
    line = node.start_mark.line + 1 if node is not None else 1
    return line, "".join(parts).lstrip(".")


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def publish(
    session: Session, definition: ProcedureDefinition, actor: str = "system"
) -> tuple[Procedure, bool]:
    """Store a version once. Re-publishing the same content is a no-op; other content is refused."""
    digest = definition_sha256(definition)
    existing = find(session, definition.name, definition.version)
    if existing is not None:
        if existing.definition_sha256 != digest:
            raise ProcedureError(
                f"{definition.name} v{definition.version} is already published with other "
                f"content; published versions are immutable, publish it as a new version"
            )
        return existing, False
    newest = latest(session, definition.name)
    if newest is not None and newest.version > definition.version:
        raise ProcedureError(
            f"{definition.name} v{newest.version} is already published; a new version must "
            f"have a higher number than v{newest.version}"
        )
    row = Procedure(
        name=definition.name,
        version=definition.version,
        title=definition.title,
        definition=definition.model_dump(mode="json", by_alias=True, exclude_unset=True),
        definition_sha256=digest,
    )
    session.add(row)
    session.flush()
    events.procedure_published(session, row, actor)
    session.commit()
    session.refresh(row)
    return row, True


def publish_directory(
    session: Session, directory: Path, actor: str = "system"
) -> list[tuple[Procedure, bool]]:
    """Publish every ``*.yaml`` procedure in ``directory`` (the seeds), oldest version first."""
    definitions = [load_definition(p) for p in sorted(directory.glob("*.yaml"))]
    definitions.sort(key=lambda d: (d.name, d.version))
    return [publish(session, d, actor) for d in definitions]


def find(session: Session, name: str, version: int) -> Procedure | None:
    return session.exec(
        select(Procedure).where(Procedure.name == name, Procedure.version == version)
    ).first()


def latest(session: Session, name: str) -> Procedure | None:
    return session.exec(
        select(Procedure).where(Procedure.name == name).order_by(col(Procedure.version).desc())
    ).first()


def list_versions(session: Session) -> list[Procedure]:
    return list(session.exec(select(Procedure).order_by(Procedure.name, col(Procedure.version))))


def list_latest(session: Session) -> list[Procedure]:
    newest: dict[str, Procedure] = {}
    for row in list_versions(session):
        newest[row.name] = row
    return list(newest.values())


def definition_of(row: Procedure) -> ProcedureDefinition:
    return ProcedureDefinition.model_validate(row.definition)


def to_public(row: Procedure) -> ProcedurePublic:
    definition = definition_of(row)
    return ProcedurePublic(
        name=row.name,
        version=row.version,
        title=row.title,
        description=definition.description,
        deadline=definition.deadline,
        applicant_fields=definition.applicant_fields,
        steps=[step.name for step in definition.steps],
        published_at=row.published_at,
    )
