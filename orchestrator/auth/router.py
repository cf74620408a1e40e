"""Sign in and out (password or OpenID Connect); who am I."""

from __future__ import annotations

import html

from fastapi import APIRouter, Cookie, Query, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from orchestrator.auth import oidc, users
from orchestrator.auth.deps import SESSION_COOKIE, OwnSession, TokenDep
from orchestrator.auth.session_cookie import secure, set_session_cookie
from orchestrator.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Login(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOpened(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer <token>'; shown once")
    expires_at: str
    user: str


class Me(BaseModel):
    name: str
    display_name: str
    roles: list[str]
    groups: list[str]
    unit: str | None


@router.post("/login", response_model=SessionOpened)
def login(
    data: Login, session: SessionDep, settings: SettingsDep, response: Response
) -> SessionOpened:
    """Sign in with a password; the session token also comes as an HttpOnly cookie."""
    row, token = users.login(session, data.name, data.password, settings)
    session.commit()
    assert row.expires_at is not None
    set_session_cookie(response, token, settings)
    return SessionOpened(token=token, expires_at=row.expires_at.isoformat(), user=row.user_name)


@router.post("/logout", status_code=204)
def logout(session: SessionDep, token: TokenDep, _: OwnSession, response: Response) -> Response:
    """End this session (or revoke the API token used to call it)."""
    users.logout(session, token)
    session.commit()
    response.delete_cookie(SESSION_COOKIE)
    response.status_code = 204
    return response


@router.get("/me", response_model=Me)
def me(actor: OwnSession) -> Me:
    """The signed-in user, their roles, groups and unit."""
    return Me(
        name=actor.name,
        display_name=actor.display_name,
        roles=sorted(actor.roles),
        groups=sorted(actor.groups),
        unit=actor.unit,
    )


@router.get("/oidc/login", response_class=RedirectResponse, status_code=303)
def oidc_login(settings: SettingsDep) -> RedirectResponse:
    """Sign in at the organisation's OpenID Connect provider: a redirect there (404 when none
    is configured, 502 when it cannot be reached)."""
    started = oidc.start(settings)
    response = RedirectResponse(started.url, status_code=303, headers={"Cache-Control": "no-store"})
    response.set_cookie(
        oidc.FLOW_COOKIE,
        started.flow_cookie,
        max_age=oidc.FLOW_TTL_S,
        path=oidc.FLOW_COOKIE_PATH,
        httponly=True,
        samesite="lax",  # Strict would drop it on the provider's redirect back
        secure=secure(settings),
    )
    return response


@router.get("/oidc/callback", response_class=HTMLResponse)
def oidc_callback(
    session: SessionDep,
    settings: SettingsDep,
    code: str | None = Query(default=None, max_length=4096),
    state: str | None = Query(default=None, max_length=512),
    error: str | None = Query(default=None, max_length=256),
    error_description: str | None = Query(default=None, max_length=1024),
    idara_oidc: str | None = Cookie(default=None, max_length=4096),
) -> HTMLResponse:
    """Where the provider sends the browser back: checks the sign-in, opens a session (the
    HttpOnly session cookie) and goes on to IDARA_OIDC_AFTER_LOGIN.

    The answer is a page that moves on by itself rather than a redirect: the browser arrived
    here from the provider, another site, and would not send the SameSite=Strict session
    cookie on a redirect chain that started there; a navigation from this page is same-site."""
    _, token = oidc.sign_in(session, settings, idara_oidc, code, state, error, error_description)
    session.commit()
    target = html.escape(settings.oidc_after_login, quote=True)
    response = HTMLResponse(
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={target}">'
        f'<title>idara</title><p>Signed in. <a href="{target}">Continue</a></p>',
        headers={"Cache-Control": "no-store"},
    )
    set_session_cookie(response, token, settings)
    response.delete_cookie(
        oidc.FLOW_COOKIE,
        path=oidc.FLOW_COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=secure(settings),
    )
    return response
