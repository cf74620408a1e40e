"""Signing in and out of the web interface, the language switcher, and each role's home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from orchestrator.auth import tokens, users
from orchestrator.auth.actor import Actor
from orchestrator.auth.deps import SESSION_COOKIE, OwnSession, TokenDep
from orchestrator.auth.models import User
from orchestrator.auth.permissions import Permission
from orchestrator.auth.session_cookie import set_session_cookie
from orchestrator.auth.users import actor_of
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.errors import TooManyRequests, Unauthorized
from orchestrator.web import i18n
from orchestrator.web.forms import FormData, PostedForm, form_data
from orchestrator.web.render import LANGUAGE_COOKIE, Page, page_for

router = APIRouter(prefix="/ui", include_in_schema=False)
HOMES = (
    (Permission.file_case, "/ui/cases"),
    (Permission.decide_approvals, "/ui/approvals"),
    (Permission.read_audit, "/ui/audit"),
    (Permission.read_nodes, "/ui/ops"),
)
YEAR_S = 365 * 24 * 3600


def local_path(target: str, default: str = "/ui/") -> str:
    """``target`` when it is a page of this interface, so a link cannot send people away."""
    if target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def see_other(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


def home_of(page: Page) -> str | None:
    return next((path for permission, path in HOMES if page.may(permission)), None)


@router.get("/")
def home(
    request: Request, session: SessionDep, settings: SettingsDep, actor: OwnSession
) -> Response:
    """Each role's main page; a person with none of them (an admin) is told where to go."""
    page = page_for(request, session, settings, actor)
    target = home_of(page)
    return see_other(target) if target else page.render("no_pages.html")


@router.get("/login")
def login_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    next: Annotated[str, Query(max_length=2000)] = "/ui/",
) -> Response:
    page = page_for(request, session, settings, None)
    return page.render(
        "login.html", next=local_path(next), name="", error=None, oidc=bool(settings.oidc_issuer)
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[FormData, Depends(form_data)],
) -> Response:
    """Password sign-in from the form: the same check, lock-out and session as the API's."""
    name, target = form.get("name").strip(), local_path(form.get("next"))
    page = page_for(request, session, settings, None)
    try:
        _, token = users.login(session, name, form.get("password"), settings)
    except Unauthorized:
        session.rollback()
        error, status = i18n.N_("The name or the password is wrong."), 401
    except TooManyRequests:
        session.rollback()
        error, status = i18n.N_("Too many failed attempts: this name is locked for a while."), 429
    else:
        session.commit()
        response = see_other(target)
        set_session_cookie(response, token, settings)
        return response
    oidc = bool(settings.oidc_issuer)
    return page.render("login.html", status=status, next=target, name=name, error=error, oidc=oidc)


@router.post("/logout")
def logout(session: SessionDep, token: TokenDep, _: OwnSession, form: PostedForm) -> Response:
    users.logout(session, token)
    session.commit()
    response = see_other("/ui/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.post("/language")
def choose_language(
    request: Request, session: SessionDep, form: Annotated[FormData, Depends(form_data)]
) -> Response:
    """The switcher: kept in the browser, and on the person when signed in."""
    language = i18n.chosen(form.get("language")) or i18n.DEFAULT_LANGUAGE
    actor = _signed_in(request, session)
    if actor is not None:
        user = session.get(User, actor.name)
        if user is not None:
            user.language = language
            session.add(user)
            session.commit()
    response = see_other(local_path(form.get("next")))
    response.set_cookie(LANGUAGE_COOKIE, language, max_age=YEAR_S, samesite="strict", httponly=True)
    return response


def _signed_in(request: Request, session: SessionDep) -> Actor | None:
    token = request.cookies.get(SESSION_COOKIE)
    found = tokens.find(session, token) if token else None
    return actor_of(found[1]) if found else None
