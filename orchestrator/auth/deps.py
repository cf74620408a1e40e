"""Who is acting, and may they. Routes declare ``Depends(Requires(Permission.x))`` (through
the aliases below: ``ReadNodes``, ``ManageNodes``…) and get the signed-in :class:`Actor`;
services receive that actor and scope what they return by it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from orchestrator.auth import tokens
from orchestrator.auth.actor import Actor
from orchestrator.auth.models import ApiToken
from orchestrator.auth.permissions import Permission, permissions_of
from orchestrator.auth.users import actor_of
from orchestrator.db import utcnow
from orchestrator.deps import SessionDep
from orchestrator.errors import Forbidden, Unauthorized

SESSION_COOKIE = "idara_session"
USE_RESOLUTION = timedelta(minutes=1)
bearer = HTTPBearer(auto_error=False, description="An API token or a session token")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The web session")


def current_token(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session_cookie: Annotated[str | None, Depends(cookie)],
) -> ApiToken:
    """The live token the request carries (``Authorization: Bearer`` or the session cookie)."""
    token = credentials.credentials if credentials else session_cookie
    if not token:
        raise _unauthorized("sign in first: send 'Authorization: Bearer <token>'")
    found = tokens.find(session, token)
    if found is None:
        raise _unauthorized("the token is unknown, revoked or expired, or its user is disabled")
    row, user = found
    request.state.actor = actor_of(user)
    _note_use(session, row)
    return row


def _note_use(session: SessionDep, row: ApiToken) -> None:
    """Keep ``last_used_at`` to the minute: a write per request would contend on SQLite."""
    now = utcnow()
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    if last is None or now - last > USE_RESOLUTION:
        row.last_used_at = now
        session.add(row)
        session.commit()


def _unauthorized(message: str) -> Unauthorized:
    error = Unauthorized(message)
    error.headers = {"WWW-Authenticate": "Bearer"}
    return error


TokenDep = Annotated[ApiToken, Depends(current_token)]


def current_actor(request: Request, _: TokenDep) -> Actor:
    actor: Actor = request.state.actor
    return actor


class Requires:
    """The dependency a route declares: the signed-in actor, holding ``permission``."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if self.permission not in permissions_of(actor.roles):
            roles = ", ".join(sorted(actor.roles)) or "no role"
            raise Forbidden(
                f"{actor.name} ({roles}) may not do this: it needs the "
                f"{self.permission.value} permission"
            )
        return actor


FileCase = Annotated[Actor, Depends(Requires(Permission.file_case))]
ReadCases = Annotated[Actor, Depends(Requires(Permission.read_cases))]
ManageCases = Annotated[Actor, Depends(Requires(Permission.manage_cases))]
ReadDocuments = Annotated[Actor, Depends(Requires(Permission.read_documents))]
ReadProcedures = Annotated[Actor, Depends(Requires(Permission.read_procedures))]
DecideApprovals = Annotated[Actor, Depends(Requires(Permission.decide_approvals))]
ReadAudit = Annotated[Actor, Depends(Requires(Permission.read_audit))]
ManageUsers = Annotated[Actor, Depends(Requires(Permission.manage_users))]
OwnSession = Annotated[Actor, Depends(Requires(Permission.own_session))]
ReadNodes = Annotated[Actor, Depends(Requires(Permission.read_nodes))]
ManageNodes = Annotated[Actor, Depends(Requires(Permission.manage_nodes))]
ReportNode = Annotated[Actor, Depends(Requires(Permission.report_node))]
ReadMetrics = Annotated[Actor, Depends(Requires(Permission.read_metrics))]
