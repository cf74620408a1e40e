"""The events idara records, built in one place so every entry of a kind has the same shape.

Each function appends within the caller's transaction (see :mod:`orchestrator.audit.chain`)
and does not commit. A transaction keeps all its payloads before its first append, so it never
waits for a payload row while holding the chain's lock: :func:`step_finished` therefore
returns a :class:`Pending` entry, recorded once the transaction's other payloads are kept.

Personal data (a request, a rendered prompt, an output, an edit, a
reason) goes to :mod:`orchestrator.audit.payloads`; the entry holds its sha256 only, under a
``*_sha256`` member listed in :data:`PAYLOAD_KEYS`.
"""

from __future__ import annotations

import difflib
import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from orchestrator.audit import chain, payloads
from orchestrator.cases.models import Case, CaseStep
from orchestrator.db import utc
from orchestrator.settings import get_settings

ENGINE = "engine"
SYSTEM = "system"
PAYLOAD_KEYS = frozenset(
    {
        "request_sha256",
        "prompt_sha256",
        "output_sha256",
        "args_sha256",
        "edit_sha256",
        "reason_sha256",
        "error_sha256",
    }
)


def cli_actor() -> str:
    """Who acts when a command runs on the server itself."""
    return f"cli:{getpass.getuser()}"


def keep(session: Session, kind: str, content: Any, case_id: str | None) -> str:
    retention = get_settings().audit_payload_retention_days
    return payloads.store(session, kind, content, case_id, retention)


def case_created(session: Session, case: Case, steps: list[str], actor: str) -> None:
    request = {"text": case.request_text, "applicant": case.applicant, "language": case.language}
    chain.record(
        session,
        "case.created",
        actor,
        {
            "reference": case.reference,
            "procedure": case.procedure_name,
            "procedure_version": case.procedure_version,
            "language": case.language,
            "request_language": case.request_language or case.language,
            "steps": steps,
            "request_sha256": keep(session, "request", request, case.id),
        },
        case_id=case.id,
    )


def case_changed(
    session: Session, case_id: str, kind: str, actor: str, data: dict[str, Any]
) -> None:
    """``case.completed``, ``case.failed``, ``case.rejected``, ``case.cancelled``,
    ``case.resumed``."""
    chain.record(session, kind, actor, data, case_id=case_id)


def step_started(session: Session, case: Case, step: CaseStep, attempt: int) -> None:
    chain.record(
        session,
        "step.started",
        ENGINE,
        {
            "step": step.name,
            "step_kind": step.kind,
            "attempt": attempt,
            "procedure": case.procedure_name,
            "procedure_version": case.procedure_version,
        },
        case_id=case.id,
        model=step.model,
    )


@dataclass
class Pending:
    """An entry built, its payloads kept, not yet appended."""

    kind: str
    actor: str
    data: dict[str, Any]
    case_id: str | None = None
    model: str | None = None
    node: str | None = None

    def record(self, session: Session) -> None:
        chain.record(
            session,
            self.kind,
            self.actor,
            self.data,
            case_id=self.case_id,
            model=self.model,
            node=self.node,
        )


def step_finished(
    session: Session,
    step_id: int,
    actor: str = ENGINE,
    messages: list[dict[str, str]] | None = None,
) -> Pending:
    """A step's end, from its row as just written: status, hashes, model, node, tokens,
    timings. ``messages`` is the rendered prompt of an agent step, kept as a payload; an error
    is kept as a payload too, since a model's output quoted in it may hold personal data."""
    step = session.get(CaseStep, step_id, populate_existing=True)
    assert step is not None
    case = session.get(Case, step.case_id)
    assert case is not None
    data: dict[str, Any] = {
        "step": step.name,
        "step_kind": step.kind,
        "status": step.status,
        "procedure": case.procedure_name,
        "procedure_version": case.procedure_version,
    }
    if step.error:
        data["error_sha256"] = keep(session, "error", step.error, case.id)
    if step.status == "skipped" and step.notes:
        data["reason"] = step.notes[0]
    if step.output is not None:
        data["output_sha256"] = keep(session, "output", step.output, case.id)
    for name in (
        "prompt_ref",
        "prompt_sha256",
        "model_sha256",
        "queue",
        "task_id",
        "prompt_tokens",
        "completion_tokens",
        "model_ms",
        "latency_ms",
    ):
        value = getattr(step, name)
        if value is not None:
            data[name] = value
    if messages is not None:
        data["prompt_sha256"] = keep(session, "prompt", messages, case.id)
    if step.kind == "deliver" and step.output:
        data["pdf_sha256"] = step.output.get("pdf_sha256")
        data["html_sha256"] = step.output.get("html_sha256")
    return Pending("step.finished", actor, data, case.id, step.model, step.node)


def tool_called(
    session: Session,
    case_id: str,
    step: str,
    tool: str,
    args: dict[str, Any],
    result_sha256: str | None,
    duration_ms: float | None,
    error: str | None = None,
) -> None:
    data: dict[str, Any] = {
        "step": step,
        "tool": tool,
        "args_sha256": keep(session, "tool_args", args, case_id),
        "result_sha256": result_sha256,
        "duration_ms": duration_ms,
    }
    if error:
        data["error_sha256"] = keep(session, "error", error, case_id)
    chain.record(session, "tool.called", ENGINE, data, case_id=case_id)


def approval_opened(session: Session, approval: Any) -> None:
    chain.record(
        session,
        "approval.opened",
        ENGINE,
        {
            "approval_id": approval.id,
            "step": approval.step_name,
            "group": approval.group,
            "role": approval.role,
            "due_at": utc(approval.due_at).isoformat(),
            "draft_step": approval.draft_step,
        },
        case_id=approval.case_id,
    )


def approval_decided(
    session: Session,
    approval: Any,
    actor: str,
    decision: str,
    reason: str | None,
    edited: dict[str, Any] | None,
) -> None:
    """Who decided what and why; an edit is kept as a unified diff per field."""
    data: dict[str, Any] = {
        "approval_id": approval.id,
        "step": approval.step_name,
        "group": approval.group,
        "decision": decision,
        "reason_given": bool(reason),
    }
    if reason:
        data["reason_sha256"] = keep(session, "reason", reason, approval.case_id)
    if edited is not None:
        diff = edit_diff(approval.original or {}, edited)
        data["edited_fields"] = sorted(diff)
        data["edit_sha256"] = keep(session, "edit", diff, approval.case_id)
    chain.record(session, "approval.decided", actor, data, case_id=approval.case_id)


def approval_escalated(session: Session, approval: Any, to_group: str, was_due: datetime) -> None:
    """An approval handed on (escalations happen once, from the step's own group)."""
    chain.record(
        session,
        "approval.escalated",
        SYSTEM,
        {
            "approval_id": approval.id,
            "step": approval.step_name,
            "from_group": approval.original_group,
            "to_group": to_group,
            "was_due_at": was_due.isoformat(),
        },
        case_id=approval.case_id,
    )


def edit_diff(original: dict[str, Any], edited: dict[str, Any]) -> dict[str, str]:
    """A unified diff per changed field, as a supervisor's correction reads best."""
    diffs = {}
    for name in sorted(edited):
        before, after = str(original.get(name, "")), str(edited[name])
        if before != after:
            lines = difflib.unified_diff(
                before.splitlines(), after.splitlines(), "draft", "approved", lineterm=""
            )
            diffs[name] = "\n".join(lines)
    return diffs


def procedure_published(session: Session, row: Any, actor: str) -> None:
    chain.record(
        session,
        "procedure.published",
        actor,
        {
            "procedure": row.name,
            "version": row.version,
            "title": row.title,
            "definition_sha256": row.definition_sha256,
        },
    )
