"""The clerk's pages: file a request with the procedure's own form, the list of cases, and a
case's page (timeline, extracted fields, draft, delivered documents), which refresh
themselves until the case ends."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from orchestrator.auth.deps import FileCase, ManageCases, ReadCases
from orchestrator.cases import lifecycle, service
from orchestrator.cases.models import CaseStatus
from orchestrator.cases.schemas import CaseCreate, CasePublic, CaseSummary
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.errors import IdaraError, InvalidInput
from orchestrator.procedures import service as procedures
from orchestrator.procedures.schemas import ApplicantField, ProcedurePublic, text_in
from orchestrator.web import labels
from orchestrator.web.errors import TITLES
from orchestrator.web.forms import FormData, PostedForm
from orchestrator.web.i18n import N_
from orchestrator.web.render import Page, page_for
from orchestrator.web.session import see_other

router = APIRouter(prefix="/ui/cases", include_in_schema=False)
PAGE_SIZE = 50


@router.get("")
def case_list(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: ReadCases,
    status: Annotated[str, Query(max_length=40)] = "",
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    page = page_for(request, session, settings, actor)
    wanted = status if status in CaseStatus.__members__ else None
    rows, total = service.list_cases(session, actor, wanted, None, PAGE_SIZE, offset)
    items = [CaseSummary.of(row, "") for row in rows]
    return page.render(
        "cases.html",
        items=items,
        total=total,
        offset=offset,
        page_size=PAGE_SIZE,
        filter_status=wanted or "",
        statuses=list(CaseStatus),
        final=all(item.status in lifecycle.ENDED_CASE_STATUSES for item in items),
        labels=labels,
    )


@router.get("/new")
def new_case(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    actor: FileCase,
    procedure: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    page = page_for(request, session, settings, actor)
    return _form(page, session, procedure, {}, {}, None)


@router.post("")
def file_case(
    request: Request, session: SessionDep, settings: SettingsDep, actor: FileCase, form: PostedForm
) -> Response:
    """File the request; a form with mistakes comes back with each one said next to its field
    and everything typed kept."""
    page = page_for(request, session, settings, actor)
    name = form.get("procedure")
    chosen = _procedure(session, name)
    values = _values(form, chosen)
    try:
        data = CaseCreate(
            procedure=name,
            text=form.get("text"),
            language=form.get("language") or None,
            applicant=_applicant(values),
        )
    except ValidationError as exc:
        return _form(page, session, name, values, _model_errors(exc), None, form, 422)
    try:
        case, _ = service.create_case(
            session, data, settings, actor, form.get("idempotency")[:200] or None
        )
    except InvalidInput as exc:
        session.rollback()
        errors = _field_errors(exc, chosen)
        return _form(page, session, name, values, errors, None if errors else exc, form, 422)
    except IdaraError as exc:
        session.rollback()
        return _form(page, session, name, values, {}, exc, form, exc.status_code)
    return see_other(f"/ui/cases/{case.id}")


@router.get("/{case_id}")
def case_page(
    case_id: str, request: Request, session: SessionDep, settings: SettingsDep, actor: ReadCases
) -> Response:
    page = page_for(request, session, settings, actor)
    case, steps = service.get_case(session, case_id, actor)
    public = CasePublic.with_steps(case, steps, "")
    row = procedures.find(session, case.procedure_name, case.procedure_version)
    definition = procedures.definition_of(row) if row else None
    return page.render(
        "case.html",
        case=public,
        procedure=definition,
        fields=_applicant_rows(
            public, definition.applicant_fields if definition else [], page.language
        ),
        results=[s for s in public.steps if s.kind == "llm" and s.output],
        final=public.status in lifecycle.ENDED_CASE_STATUSES,
        labels=labels,
        resumable=public.status in lifecycle.RESUMABLE_CASE_STATUSES,
        cancellable=public.status in lifecycle.CANCELLABLE_CASE_STATUSES,
    )


@router.post("/{case_id}/resume")
def resume(case_id: str, session: SessionDep, actor: ManageCases, form: PostedForm) -> Response:
    """Run a failed case again from its failed step (the API's resume)."""
    case = service.resume_case(session, case_id, actor)
    return see_other(f"/ui/cases/{case.id}")


@router.post("/{case_id}/cancel")
def cancel(case_id: str, session: SessionDep, actor: ManageCases, form: PostedForm) -> Response:
    """Stop a case that has not ended; a reason may be given."""
    reason = form.get("reason").strip()[:500] or None
    case = service.cancel_case(session, case_id, reason, actor)
    return see_other(f"/ui/cases/{case.id}")


def _procedure(session: SessionDep, name: str) -> ProcedurePublic | None:
    row = procedures.latest(session, name) if name else None
    return procedures.to_public(row) if row else None


def _form(
    page: Page,
    session: SessionDep,
    name: str,
    values: dict[str, Any],
    errors: dict[str, str],
    problem: IdaraError | None,
    form: FormData | None = None,
    status: int = 200,
) -> Response:
    available = [procedures.to_public(row) for row in procedures.list_latest(session)]
    chosen = next((p for p in available if p.name == name), None)
    return page.render(
        "case_new.html",
        status=status,
        procedures=available,
        chosen=chosen,
        values=values,
        errors=errors,
        problem=problem,
        problem_title=TITLES.get(problem.status_code, "") if problem else "",
        text=form.get("text") if form else "",
        language=form.get("language") if form else "",
        idempotency=(form.get("idempotency") if form else "") or uuid.uuid4().hex,
        label_of=lambda field: text_in(field.label, page.language),
    )


def _values(form: FormData, chosen: ProcedurePublic | None) -> dict[str, Any]:
    """The applicant fields as typed: a list for multiple choices, else the text."""
    values: dict[str, Any] = {}
    for field in chosen.applicant_fields if chosen else []:
        key = f"applicant.{field.name}"
        values[field.name] = form.all(key) if field.type == "choices" else form.get(key)
    return values


def _applicant(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in ("", [])}


def _model_errors(exc: ValidationError) -> dict[str, str]:
    errors = {}
    for error in exc.errors():
        where = str(error["loc"][0]) if error["loc"] else "form"
        errors[where] = (
            N_("Write the citizen's request.")
            if where == "text"
            else N_("This value is not accepted.")
        )
    return errors


def _field_errors(exc: InvalidInput, chosen: ProcedurePublic | None) -> dict[str, str]:
    """The service's errors per applicant field, said in words the page translates."""
    fields = {field.name: field for field in chosen.applicant_fields} if chosen else {}
    errors = {}
    for error in exc.extra.get("errors", []):
        name = str(error.get("loc", [""])[-1])
        if name in fields:
            errors[name] = _field_message(fields[name], str(error.get("type", "")))
    return errors


def _field_message(field: ApplicantField, kind: str) -> str:
    if kind == "missing":
        return N_("This field is required.")
    return {
        "integer": N_("Enter a whole number in the allowed range."),
        "date": N_("Enter a date as YYYY-MM-DD."),
        "choice": N_("Choose one of the options."),
        "choices": N_("Choose among the options."),
    }.get(field.type, N_("The format is not valid."))


def _applicant_rows(
    case: CasePublic, fields: list[ApplicantField], language: str
) -> list[tuple[str, str]]:
    """The applicant's values under their labels in the page's language."""
    by_name = {field.name: field for field in fields}
    rows = []
    for name, value in case.applicant.items():
        field = by_name.get(name)
        label = text_in(field.label, language) if field else name
        if field and isinstance(value, list):
            shown = ", ".join(field.choice_label(item, language) for item in value)
        elif field and field.type == "choice":
            shown = field.choice_label(str(value), language)
        else:
            shown = str(value)
        rows.append((label, shown))
    return rows
