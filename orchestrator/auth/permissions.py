"""What each role may do, in one table. Every route declares one permission with
:class:`orchestrator.auth.deps.Requires` (or is listed in ``PUBLIC_PATHS``); the role-matrix
test walks the app's routes against this table, so a new route cannot be left unchecked."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    file_case = "file_case"
    read_cases = "read_cases"
    manage_cases = "manage_cases"
    read_documents = "read_documents"
    read_procedures = "read_procedures"
    decide_approvals = "decide_approvals"
    read_audit = "read_audit"
    manage_users = "manage_users"
    read_nodes = "read_nodes"
    manage_nodes = "manage_nodes"
    report_node = "report_node"
    read_metrics = "read_metrics"
    own_session = "own_session"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    # Clerks file and follow the cases of their own unit.
    "clerk": frozenset(
        {
            Permission.file_case,
            Permission.read_cases,
            Permission.manage_cases,
            Permission.read_documents,
            Permission.read_procedures,
        }
    ),
    # Supervisors decide approvals in their groups and read the cases they decide on.
    "supervisor": frozenset(
        {
            Permission.decide_approvals,
            Permission.read_cases,
            Permission.read_documents,
            Permission.read_procedures,
        }
    ),
    # Ops run nodes, queues and models: no case content.
    "ops": frozenset(
        {
            Permission.read_procedures,
            Permission.read_nodes,
            Permission.manage_nodes,
            Permission.read_metrics,
        }
    ),
    # Auditors read everything and change nothing; every read of the audit log is recorded.
    "auditor": frozenset(
        {
            Permission.read_audit,
            Permission.read_nodes,
            Permission.read_cases,
            Permission.read_documents,
            Permission.read_procedures,
        }
    ),
    # Admins manage people, not cases.
    "admin": frozenset({Permission.manage_users}),
    # A node's service identity: register itself and send heartbeats, nothing else.
    "node": frozenset({Permission.report_node}),
}

EVERYONE = frozenset({Permission.own_session})
"""Granted to any signed-in user whatever their roles (their own session: who am I, sign out)."""

PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/api/v1/auth/login",
        "/api/v1/auth/oidc/login",
        "/api/v1/auth/oidc/callback",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/",
        "/ui/login",
        "/ui/language",
    }
)
"""Routes that need no sign-in."""


def permissions_of(roles: frozenset[str]) -> frozenset[Permission]:
    granted = set(EVERYONE)
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
