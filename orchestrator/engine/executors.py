"""The steps the engine runs itself (rule, tool, human approval, deliver). Each stores its
result on the step row through :mod:`orchestrator.cases.lifecycle`, and a failure as
:func:`lifecycle.fail_step` does every step's; the agent (llm) steps go to nodes, see
:mod:`orchestrator.engine.flows`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session

from agents.tools import ToolContext, ToolError, run_tool
from orchestrator.approvals import service as approvals
from orchestrator.audit import events
from orchestrator.cases import lifecycle
from orchestrator.cases.lifecycle import StepFailed
from orchestrator.cases.models import Case, CaseStep, StepStatus
from orchestrator.db import session_scope, utc, utcnow
from orchestrator.documents.render import DocumentError, DocumentInput, render_document
from orchestrator.engine import state
from orchestrator.procedures import rules
from orchestrator.procedures.conditions import MISSING, resolve
from orchestrator.procedures.schemas import (
    DeliverStep,
    HumanApprovalStep,
    ProcedureDefinition,
    RuleStep,
    ToolStep,
)
from orchestrator.settings import get_settings


def namespace(case: Case, outputs: dict[str, Any]) -> dict[str, Any]:
    """What paths (``applicant.X``, ``case.X``, ``outputs.STEP.X``) read."""
    return {
        "applicant": dict(case.applicant),
        "case": {"text": case.request_text, "language": case.language, "reference": case.reference},
        "outputs": outputs,
    }


def run_rule(step_id: int, spec: RuleStep, case: Case, outputs: dict[str, Any]) -> dict[str, Any]:
    started = utcnow()
    result = rules.evaluate(spec, namespace(case, outputs), case.language, date.today())
    notes = [f["message"] for f in result["failures"]]
    _succeed(step_id, result, notes=notes, started_at=started)
    return result


def run_tool_step(
    step_id: int, spec: ToolStep, case: Case, outputs: dict[str, Any]
) -> dict[str, Any]:
    values = namespace(case, outputs)
    args = dict(spec.args)
    for name, path in spec.args_from.items():
        value = resolve(values, path)
        if value is not MISSING:
            args[name] = value
    started = utcnow()
    context = ToolContext(documents_dir=get_settings().regulations_dir, language=case.language)
    try:
        result = run_tool(spec.tool, args, context)
    except ToolError as exc:
        raise _failed(
            step_id,
            f"step {spec.name}: {exc}",
            "tool_error",
            also=_tool_call(case.id, spec, args, None, None, str(exc)),
            input={"tool": spec.tool, "args": args},
        ) from exc
    _succeed(
        step_id,
        result.output,
        also=_tool_call(case.id, spec, args, result.output_sha256, result.duration_ms),
        started_at=started,
        input={"tool": spec.tool, "args": args, "args_sha256": result.args_sha256},
        output_sha256=result.output_sha256,
        model_ms=round(result.duration_ms, 2),
    )
    return result.output


def _tool_call(
    case_id: str,
    spec: ToolStep,
    args: dict[str, Any],
    result_sha256: str | None,
    duration_ms: float | None,
    error: str | None = None,
) -> Callable[[Session], None]:
    """The ``tool.called`` entry, written with the step's result."""

    def record(session: Session) -> None:
        duration = round(duration_ms, 3) if duration_ms is not None else None
        events.tool_called(
            session, case_id, spec.name, spec.tool, args, result_sha256, duration, error
        )

    return record


def open_approval(
    step_id: int, spec: HumanApprovalStep, case_id: str, steps: dict[str, CaseStep]
) -> str:
    """Leave the case waiting for a person: no process keeps running for it."""
    with session_scope() as session:
        case = session.get(Case, case_id)
        step = session.get(CaseStep, step_id)
        assert case is not None and step is not None
        drafts = [session.get(CaseStep, steps[name].id) for name in spec.editable if name in steps]
        draft = next((d for d in drafts if d and d.status == StepStatus.succeeded), None)
        approval = approvals.open_approval(session, case, step, spec, draft)
        lifecycle.write_step(session, step_id, StepStatus.awaiting_approval, started_at=utcnow())
        detail = (
            f"awaiting approval by {approval.group} (due {utc(approval.due_at):%Y-%m-%d %H:%M} UTC)"
        )
        state.pause_for_approval(session, case_id, detail)
    return approval.id


def run_deliver(
    step_id: int,
    spec: DeliverStep,
    case: Case,
    definition: ProcedureDefinition,
    outputs: dict[str, Any],
) -> dict[str, Any]:
    started = utcnow()
    draft_name = next((name for name in spec.document if name in outputs), None)
    if draft_name is None:
        raise _deliver_failed(step_id, spec, f"none of the drafts {spec.document} was produced")
    draft = outputs[draft_name]
    approved_by, approved_at = _approval_of(definition, spec, outputs)
    document = DocumentInput(
        template=spec.template,
        language=case.language,
        reference=case.reference,
        procedure_title=definition.title,
        subject=str(draft.get(spec.subject_field, "")),
        body=without_letter_header(str(draft.get(spec.body_field, "")), case.reference),
        issued_on=f"{started:%Y-%m-%d}",
        approved_by=approved_by,
        approved_at=approved_at,
    )
    out_dir = Path(get_settings().effective_documents_dir).resolve() / case.reference
    try:
        rendered = render_document(document, out_dir, spec.name)
    except DocumentError as exc:
        raise _deliver_failed(step_id, spec, str(exc)) from exc
    result = {
        "draft": draft_name,
        "html": str(rendered.html_path),
        "pdf": str(rendered.pdf_path),
        "html_sha256": rendered.html_sha256,
        "pdf_sha256": rendered.pdf_sha256,
        "pages": rendered.pdf_pages,
    }
    _succeed(step_id, result, started_at=started, output_sha256=rendered.pdf_sha256)
    return result


def without_letter_header(body: str, reference: str) -> str:
    """A draft letter opens with its reference, date and subject lines, which the document's
    letterhead already shows: drop that block when the reference is in it."""
    lines = body.splitlines()
    head = lines[:6]
    if not any(reference in line for line in head):
        return body
    blank = next((i for i, line in enumerate(head) if not line.strip()), None)
    if blank is None:
        return body
    subject = next((i for i in range(blank, len(head)) if head[i].strip()), None)
    if subject is None:
        return body
    cut = subject + 1
    return "\n".join(lines[cut:]).strip("\n") or body


def _approval_of(
    definition: ProcedureDefinition, spec: DeliverStep, outputs: dict[str, Any]
) -> tuple[str | None, str | None]:
    """Who approved the document: the last approval step before ``spec`` that decided."""
    decided = None
    for step in definition.steps:
        if step.name == spec.name:
            break
        if isinstance(step, HumanApprovalStep) and step.name in outputs:
            decided = outputs[step.name]
    if not decided:
        return None, None
    return decided.get("decided_by_name") or decided.get("decided_by"), decided.get("decided_at")


def _deliver_failed(step_id: int, spec: DeliverStep, reason: str) -> StepFailed:
    return _failed(step_id, f"step {spec.name}: cannot deliver the document: {reason}")


def _failed(
    step_id: int,
    error: str,
    kind: str = "agent_error",
    also: Callable[[Session], None] | None = None,
    **values: Any,
) -> StepFailed:
    """Record the step's failure (an attempt more); return the exception that fails (or
    retries) it."""
    with session_scope() as session:
        return lifecycle.fail_step(
            session, step_id, kind, error, also=also, attempts=CaseStep.attempts + 1, **values
        )


def _succeed(step_id: int, output: dict[str, Any], **values: Any) -> None:
    with session_scope() as session:
        lifecycle.write_step(
            session,
            step_id,
            StepStatus.succeeded,
            finished=True,
            output=output,
            error=None,
            finished_at=utcnow(),
            attempts=CaseStep.attempts + 1,
            **values,
        )
