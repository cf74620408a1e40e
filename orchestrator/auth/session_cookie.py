"""The web session's cookie: set at sign-in (by password, from the API or the sign-in form, or
by OpenID Connect), as HttpOnly and SameSite=Strict; Secure when the server is served over
HTTPS."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Response

from orchestrator.auth.deps import SESSION_COOKIE
from orchestrator.settings import Settings


def secure(settings: Settings) -> bool:
    """Whether cookies carry ``Secure``: when the server's address is ``https://``."""
    return settings.api_base_url.startswith("https://")


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """The HttpOnly, SameSite=Strict session cookie the web interface signs in with."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(timedelta(hours=settings.session_hours).total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure(settings),
    )
