"""Every route of the app, called by every role (and by nobody): the permission each route
declares is enforced, and a route that declares none fails this test unless it is public.
The routes come from the app itself, so a new route cannot be left out."""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session

from orchestrator.auth import users
from orchestrator.auth.deps import Requires
from orchestrator.auth.directory import ROLES
from orchestrator.auth.permissions import PUBLIC_PATHS, Permission, permissions_of
from orchestrator.db import get_engine
from tests.orchestrator.conftest import NOBODY

PATH_PARAM = re.compile(r"\{[^}]+\}")


def _declared(route: APIRoute) -> list[Permission]:
    found = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if isinstance(dependency.call, Requires):
            found.append(dependency.call.permission)
        pending.extend(dependency.dependencies)
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's routes, into included routers (FastAPI keeps those as one entry each)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found.extend(_api_routes(included.routes))
    return found


def _routes(api: TestClient) -> list[tuple[str, str, APIRoute]]:
    routes = _api_routes(api.app.routes)  # type: ignore[attr-defined]
    return [(method, route.path, route) for route in routes for method in sorted(route.methods)]


def _fresh_token(name: str) -> dict[str, str]:
    """A token per call: a permitted logout revokes the token it is called with."""
    with Session(get_engine()) as session:
        _, token = users.create_token(session, name, "matrix", "test")
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def _call(api: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    url = PATH_PARAM.sub("x", path).replace("x.x", "x.pdf")
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    return api.request(method, url, json=body, headers=headers, follow_redirects=False)


def _anonymous_status(path: str) -> int:
    """The API says 401; a page of the web interface sends the browser to the sign-in page."""
    return 303 if path.startswith("/ui/") else 401


def test_every_route_declares_one_permission_or_is_public(api: TestClient) -> None:
    undeclared = [
        f"{method} {path}"
        for method, path, route in _routes(api)
        if len(_declared(route)) != 1 and path not in PUBLIC_PATHS
    ]
    assert undeclared == []


def test_every_role_gets_exactly_what_its_permissions_allow_on_every_route(
    api: TestClient,
) -> None:
    with Session(get_engine()) as session:
        for role in ROLES:
            users.add(session, f"only-{role}", role, [role], "test", ["reception"], "unit-a")
        session.commit()
    checked, wrong = 0, []
    for method, path, route in _routes(api):
        if path in PUBLIC_PATHS:
            continue
        (permission,) = _declared(route)
        anonymous = _call(api, method, path, NOBODY)
        if anonymous.status_code != _anonymous_status(path):
            wrong.append(f"{method} {path} without a token: {anonymous.status_code}")
        for role in ROLES:
            allowed = permission in permissions_of(frozenset({role}))
            status = _call(api, method, path, _fresh_token(f"only-{role}")).status_code
            checked += 1
            if allowed and status in (401, 403):
                wrong.append(f"{method} {path} as {role}: {status}, expected access")
            if not allowed and status != 403:
                wrong.append(f"{method} {path} as {role}: {status}, expected 403")
    assert wrong == []
    assert checked >= 15 * len(ROLES)  # the app has at least 15 protected routes


def test_public_routes_answer_without_a_token(api: TestClient) -> None:
    assert api.get("/healthz", headers=NOBODY).status_code == 200
    assert api.get("/openapi.json", headers=NOBODY).status_code == 200
    refused = api.post("/api/v1/auth/login", json={"name": "amina", "password": "x" * 12})
    assert refused.status_code == 401  # public, but the password is wrong


def test_an_auditor_changes_nothing_and_an_admin_sees_no_case(api: TestClient) -> None:
    case_id = api.post("/api/v1/cases", json=_body()).json()["id"]
    with Session(get_engine()) as session:
        for name, role in (("aud", "auditor"), ("adm", "admin"), ("opsy", "ops")):
            users.add(session, name, name, [role], "test")
        session.commit()
    auditor, admin, ops = _fresh_token("aud"), _fresh_token("adm"), _fresh_token("opsy")
    assert api.get(f"/api/v1/cases/{case_id}", headers=auditor).status_code == 200
    assert api.post(f"/api/v1/cases/{case_id}/cancel", headers=auditor).status_code == 403
    assert api.post("/api/v1/cases", json=_body(), headers=auditor).status_code == 403
    assert api.get(f"/api/v1/cases/{case_id}", headers=admin).status_code == 403
    assert api.get(f"/api/v1/cases/{case_id}", headers=ops).status_code == 403
    assert api.get("/api/v1/procedures", headers=ops).status_code == 200


def _body() -> dict[str, Any]:
    return {
        "procedure": "citizen-request-triage",
        "text": "Je demande un extrait.",
        "language": "fr",
    }
