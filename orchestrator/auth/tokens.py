"""API and session tokens: ``idara_<id>_<secret>``. Only the SHA-256 of a token is stored; the
id (shown in lists and the audit log) names a token without revealing it."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from orchestrator.auth.models import ApiToken, User
from orchestrator.db import utcnow

PREFIX = "idara_"
TOKEN_PATTERN = re.compile(r"idara_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")
"""What a token looks like; the log filter masks anything that matches."""

API, SESSION = "api", "session"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def issue(
    session: Session, user: User, kind: str, label: str = "", ttl: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Store a new token for ``user``; return the row and the token, shown this once only."""
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    row = ApiToken(
        id=token_id,
        user_name=user.name,
        kind=kind,
        label=label,
        secret_sha256=_digest(token),
        expires_at=utcnow() + ttl if ttl else None,
    )
    session.add(row)
    return row, token


def find(session: Session, token: str) -> tuple[ApiToken, User] | None:
    """The live token and its enabled user, or ``None`` (unknown, revoked, expired, disabled)."""
    if not TOKEN_PATTERN.fullmatch(token):
        return None
    found = session.exec(
        select(ApiToken, User)
        .join(User, col(User.name) == col(ApiToken.user_name))
        .where(col(ApiToken.secret_sha256) == _digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or user.disabled or _expired(row.expires_at):
        return None
    return row, user


def _expired(expires_at: datetime | None) -> bool:
    if expires_at is None:
        return False
    if expires_at.tzinfo is None:  # SQLite hands timestamps back without their zone
        expires_at = expires_at.replace(tzinfo=utcnow().tzinfo)
    return expires_at <= utcnow()


def revoke(session: Session, row: ApiToken) -> None:
    row.revoked_at = utcnow()
    session.add(row)


def user_tokens(session: Session, user_name: str | None = None, kind: str = API) -> list[ApiToken]:
    query = select(ApiToken).where(col(ApiToken.kind) == kind).order_by(col(ApiToken.created_at))
    if user_name:
        query = query.where(col(ApiToken.user_name) == user_name)
    return list(session.exec(query).all())
