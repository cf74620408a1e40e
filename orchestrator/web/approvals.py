"""The supervisor's pages: the approvals inbox (due time, overdue first to the eye) and one
approval, to approve, reject with a reason, or correct the draft (the change shown as a diff
before it is confirmed, and after)."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from orchestrator.approvals import service
from orchestrator.approvals.models import ApprovalStatus, Decision
from orchestrator.approvals.schemas import ApprovalPublic, DecisionCreate
from orchestrator.auth.deps import DecideApprovals
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.errors import InvalidInput
from orchestrator.web import evidence, labels
from orchestrator.web.forms import FormData, PostedForm
from orchestrator.web.i18n import N_
from orchestrator.web.render import Page, page_for
from orchestrator.web.session import see_other

router = APIRouter(prefix="/ui/approvals", include_in_schema=False)
ACTIONS = {"approve", "reject", "preview", "edit"}
MAX_REASON = DecisionCreate.model_fields["reason"].metadata[0].max_length
WORDS = re.compile(r"\S+|\s+")


@router.get("")
def inbox(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: DecideApprovals,
    status: Annotated[str, Query(max_length=40)] = "pending",
) -> Response:
    page = page_for(request, session, settings, actor)
    wanted = ApprovalStatus(status) if status in ApprovalStatus.__members__ else None
    items = [service.to_public(session, a, "") for a in service.inbox(session, actor, wanted)]
    return page.render("approvals.html", items=items, filter_status=wanted or "", labels=labels)


@router.get("/{approval_id}")
def approval_page(
    approval_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: DecideApprovals,
) -> Response:
    page = page_for(request, session, settings, actor)
    approval = service.to_public(session, service.get_approval(session, approval_id, actor), "")
    return _render(page, approval, {}, None)


@router.post("/{approval_id}")
def decide(
    approval_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: DecideApprovals,
    form: PostedForm,
) -> Response:
    """approve, reject (a reason is required), preview an edit (shows the diff), edit."""
    page = page_for(request, session, settings, actor)
    approval = service.to_public(session, service.get_approval(session, approval_id, actor), "")
    action = form.get("action")
    edits = _edits(form, approval)
    if action not in ACTIONS:
        return _render(page, approval, edits, N_("Choose approve, reject or edit."), 422, form)
    if action == "preview":
        return _render(page, approval, edits, None, 200, form, preview=True)
    if action == "approve" and _changed(edits, approval):
        message = N_("You changed the draft: approve with your changes, or undo them.")
        return _render(page, approval, edits, message, 422, form, preview=True)
    try:
        data = DecisionCreate(
            decision=Decision(action),
            reason=form.get("reason").strip() or None,
            edit=_changed(edits, approval) if action == "edit" else None,
        )
        service.decide(session, approval_id, actor, data)
    except (ValidationError, InvalidInput):
        session.rollback()
        message = _problem(action, edits, approval, form.get("reason"))
        return _render(page, approval, edits, message, 422, form, preview=action == "edit")
    return see_other(f"/ui/approvals/{approval_id}")


def _edits(form: FormData, approval: ApprovalPublic) -> dict[str, str]:
    """The corrected fields as typed; a browser sends a textarea's line breaks as CRLF."""
    posted = form.names()
    return {
        name: form.get(f"edit.{name}").replace("\r\n", "\n")
        for name in approval.editable_fields
        if f"edit.{name}" in posted
    }


def _changed(edits: dict[str, str], approval: ApprovalPublic) -> dict[str, str] | None:
    original = approval.original or {}
    changed = {name: text for name, text in edits.items() if text != str(original.get(name, ""))}
    return changed or None


def _problem(action: str, edits: dict[str, str], approval: ApprovalPublic, reason: str) -> str:
    if len(reason) > MAX_REASON:
        return N_("The reason is too long: 2,000 characters at most.")
    if action == "reject":
        return N_("A rejection needs a reason.")
    if action == "edit" and not _changed(edits, approval):
        return N_("The draft is unchanged: approve it, or change it first.")
    if action == "edit":
        return N_("A corrected field may not be empty.")
    return N_("The decision could not be recorded.")


def diff_of(before: str, after: str) -> list[tuple[str, str]]:
    """Word by word, spaces and line breaks kept: ("same" | "removed" | "added", text), for
    <del> and <ins>."""
    old, new = WORDS.findall(before), WORDS.findall(after)
    parts: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(("same", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            parts.append(("removed", "".join(old[i1:i2])))
        if j2 > j1:
            parts.append(("added", "".join(new[j1:j2])))
    return parts


def _diffs(approval: ApprovalPublic, edits: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    original = approval.original or {}
    after = edits or {k: str(v) for k, v in (approval.edited or {}).items()}
    return {
        name: diff_of(str(original.get(name, "")), text)
        for name, text in after.items()
        if text != str(original.get(name, ""))
    }


def _render(
    page: Page,
    approval: ApprovalPublic,
    edits: dict[str, str],
    problem: str | None,
    status: int = 200,
    form: FormData | None = None,
    preview: bool = False,
) -> Response:
    original: dict[str, Any] = approval.original or {}
    drafts = {
        name: edits.get(name, str(original.get(name, ""))) for name in approval.editable_fields
    }
    return page.render(
        "approval.html",
        status=status,
        approval=approval,
        drafts=drafts,
        diffs=_diffs(approval, edits),
        preview=preview,
        problem=problem,
        reason=form.get("reason") if form else "",
        labels=labels,
        request_parts=evidence.segments(approval.request_text, approval.shown),
        dropped=evidence.dropped(approval.shown),
        decisions=evidence.decisions(approval.shown),
        plain=evidence.without_evidence,
    )
