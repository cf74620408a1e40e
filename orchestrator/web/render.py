"""Rendering a page: the Jinja2 environment, the signed-in context every page shares, and the
headers that keep the browser on this server's own files."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from orchestrator.auth.actor import Actor
from orchestrator.auth.deps import SESSION_COOKIE
from orchestrator.auth.models import User
from orchestrator.auth.permissions import Permission, permissions_of
from orchestrator.settings import Settings
from orchestrator.web import i18n
from orchestrator.web.i18n import N_

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
"""The stylesheet and script the pages load (mounted at ``/ui/static``)."""
LANGUAGE_COOKIE = "idara_language"
SECURITY_HEADERS = {
    # Nothing from another host: no CDN, font or script (the interface runs offline).
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

NAVIGATION = (
    (Permission.file_case, "/ui/cases", N_("Cases")),
    (Permission.decide_approvals, "/ui/approvals", N_("Approvals")),
    (Permission.read_audit, "/ui/audit", N_("Audit")),
    (Permission.read_nodes, "/ui/ops", N_("Operations")),
)
"""The menu: each entry shown to whoever holds its permission."""


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def csrf_token(session_token: str) -> str:
    """The form token of a signed-in browser: derived from its session, which only it knows
    (the cookie is HttpOnly), so another site cannot forge a form post."""
    return hmac.new(session_token.encode(), b"idara-web-form", hashlib.sha256).hexdigest()


@dataclass
class Page:
    """What every page needs: who is signed in, in which language, and the form token."""

    request: Request
    settings: Settings
    language: str
    actor: Actor | None = None
    csrf: str = ""

    def may(self, permission: Permission) -> bool:
        return self.actor is not None and permission in permissions_of(self.actor.roles)

    def navigation(self) -> list[tuple[str, str]]:
        return [(path, label) for permission, path, label in NAVIGATION if self.may(permission)]

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        token = i18n.current_language.set(self.language)
        try:
            context = {
                "page": self,
                "lang": self.language,
                "dir": i18n.direction(self.language),
                "languages": i18n.LANGUAGE_NAMES,
                "t": i18n.translate,
                "path": self.request.url.path,
                "query": str(self.request.url.query),
                **i18n.formatters(self.language, self.settings.ui_timezone),
            }
            html = environment().get_template(template).render({**context, **values})
        finally:
            i18n.current_language.reset(token)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def language_of(request: Request, settings: Settings, user: User | None) -> str:
    """The person's saved choice, else the browser's cookie, else what the browser asks
    for, else the installation's default."""
    return (
        i18n.chosen(user.language if user else None)
        or i18n.chosen(request.cookies.get(LANGUAGE_COOKIE))
        or i18n.from_accept_language(request.headers.get("accept-language"))
        or settings.ui_language
    )


def page_for(request: Request, session: Session, settings: Settings, actor: Actor | None) -> Page:
    user = session.get(User, actor.name) if actor else None
    session_token = request.cookies.get(SESSION_COOKIE) or ""
    return Page(
        request=request,
        settings=settings,
        language=language_of(request, settings, user),
        actor=actor,
        csrf=csrf_token(session_token) if actor and session_token else "",
    )
