"""Sign in and out; who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from orchestrator.auth import users
from orchestrator.auth.deps import SESSION_COOKIE, OwnSession, TokenDep
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
    ttl = timedelta(hours=settings.session_hours)
    row, token = users.login(session, data.name, data.password, ttl)
    session.commit()
    assert row.expires_at is not None
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.api_base_url.startswith("https://"),
    )
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
