"""The auditor's pages: the audit explorer (filters by case, actor, kind, model, node and
time), a case's timeline, and the state of verification: the last signed checkpoint, and on
request the whole chain exported and verified as ``idara audit verify`` does."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from orchestrator.audit import exporter, keys
from orchestrator.audit import service as audit
from orchestrator.audit.verify import VerifyReport, verify_path
from orchestrator.auth.deps import ReadAudit
from orchestrator.cases.service import find_case
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.web import labels
from orchestrator.web.forms import PostedForm
from orchestrator.web.i18n import N_
from orchestrator.web.render import Page, page_for

router = APIRouter(prefix="/ui/audit", include_in_schema=False)
PAGE_SIZE = 100
FILTERS = (
    ("case", N_("Case (reference or id)"), "text"),
    ("by", N_("Actor"), "text"),
    ("kind", N_("Kind"), "text"),
    ("model", N_("Model"), "text"),
    ("node", N_("Node"), "text"),
    ("since", N_("From"), "datetime-local"),
    ("until", N_("Before"), "datetime-local"),
)


@router.get("")
def explorer(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: ReadAudit,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    page = page_for(request, session, settings, actor)
    return _explorer(page, session, actor, after, None)


@router.post("/verify")
def verify(
    request: Request, session: SessionDep, settings: SettingsDep, actor: ReadAudit, _: PostedForm
) -> Response:
    """Export the whole log to a scratch folder and verify it with the offline verifier,
    trusting only this server's signing keys."""
    page = page_for(request, session, settings, actor)
    with tempfile.TemporaryDirectory(prefix="idara-ui-verify-") as scratch:
        out = Path(scratch) / "export"
        exporter.export(session, settings, out, actor.name)
        report = verify_path(out, keys.verifier_keys(session))
    return _explorer(page, session, actor, 0, report, path="/ui/audit", query="")


@router.get("/cases/{case_key}")
def timeline(
    case_key: str, request: Request, session: SessionDep, settings: SettingsDep, actor: ReadAudit
) -> Response:
    page = page_for(request, session, settings, actor)
    found = audit.case_timeline(session, actor, case_key)
    session.commit()
    return page.render("audit_case.html", timeline=found, labels=labels)


def _explorer(
    page: Page,
    session: SessionDep,
    actor: Any,
    after: int,
    report: VerifyReport | None,
    **shown_as: str,
) -> Response:
    """The explorer; ``shown_as`` overrides the page's own path for the language switcher (the
    verification's answer is a POST, not a page to come back to)."""
    params = page.request.query_params
    values = {name: params.get(name, "").strip() for name, _, _ in FILTERS}
    problem = None
    events: list[Any] = []
    try:
        where = _filter(session, values, page.settings.ui_timezone, max(after, 0))
        rows = audit.list_events(session, actor, where)
        events = [audit.public(row) for row in rows]
    except (InvalidInput, NotFound) as exc:
        session.rollback()
        problem = exc.message
    status = audit.status(session, actor)
    session.commit()
    return page.render(
        "audit.html",
        status=200 if problem is None else 422,
        events=events,
        values=values,
        problem=problem,
        audit_status=status,
        report=report,
        next_link=_next_link(values, events[-1].seq) if len(events) == PAGE_SIZE else None,
        filters=FILTERS,
        labels=labels,
        **shown_as,
    )


def _next_link(values: dict[str, str], after: int) -> str:
    return "/ui/audit?" + urlencode({**{k: v for k, v in values.items() if v}, "after": after})


def _filter(
    session: SessionDep, values: dict[str, str], zone: str, after: int
) -> audit.EventFilter:
    case_id = find_case(session, values["case"]).id if values["case"] else None
    return audit.EventFilter(
        case_id=case_id,
        actor=values["by"] or None,
        kind=values["kind"] or None,
        model=values["model"] or None,
        node=values["node"] or None,
        since=_moment(values["since"], zone),
        until=_moment(values["until"], zone),
        after_seq=after,
        limit=PAGE_SIZE,
    )


def _moment(text: str, zone: str) -> datetime | None:
    """A ``datetime-local`` input's value, in the interface's time zone."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    except ValueError as exc:
        raise InvalidInput(N_("A time filter is not a date and time.")) from exc
