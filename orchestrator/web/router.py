"""The web interface's routes and its static files, mounted on the API's app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from orchestrator.web import approvals, audit, cases, ops, session
from orchestrator.web.render import STATIC_DIR


def mount(app: FastAPI) -> None:
    for module in (session, cases, approvals, audit, ops):
        app.include_router(module.router)
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    app.add_api_route("/", to_interface, methods=["GET"], include_in_schema=False)


def to_interface() -> RedirectResponse:
    """The server's root is the web interface."""
    return RedirectResponse("/ui/", status_code=303)
