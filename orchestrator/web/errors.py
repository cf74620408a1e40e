"""What a page shows when a request is refused: the sign-in page for a browser that is not
signed in, else an error page in the person's language, with the status the API would give."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from orchestrator.errors import IdaraError, Unauthorized
from orchestrator.settings import get_settings
from orchestrator.web.i18n import N_
from orchestrator.web.render import Page, language_of

UI_PREFIX = "/ui/"
TITLES = {
    403: N_("You may not do this"),
    404: N_("Not found"),
    409: N_("This was already done"),
    413: N_("Too large"),
    422: N_("Please correct the form"),
    429: N_("Too many requests: wait a moment"),
    503: N_("The service is busy: try again shortly"),
}


def is_ui(request: Request) -> bool:
    return request.url.path.startswith(UI_PREFIX) or request.url.path == "/ui"


def error_page(request: Request, exc: IdaraError) -> Response:
    if isinstance(exc, Unauthorized):
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = wanted if request.method == "GET" else "/ui/"
        return RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)
    settings = get_settings()
    page = Page(request=request, settings=settings, language=language_of(request, settings, None))
    title = TITLES.get(exc.status_code, N_("The request could not be done"))
    response = page.render("error.html", status=exc.status_code, title=title, detail=exc.message)
    response.headers.update(exc.headers)
    return response
