"""People and their credentials: add, disable, passwords, tokens, sign-in. Every change is an
audit entry in the same transaction; no password or token ever goes into one."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from orchestrator.audit import chain
from orchestrator.auth import passwords, throttle, tokens
from orchestrator.auth.actor import Actor
from orchestrator.auth.directory import ROLES, load_directory
from orchestrator.auth.models import ApiToken, User
from orchestrator.errors import Conflict, InvalidInput, NotFound, Unauthorized
from orchestrator.settings import Settings

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
LOGIN_FAILED = "wrong user name or password"


def actor_of(user: User) -> Actor:
    return Actor(
        name=user.name,
        display_name=user.display_name,
        roles=frozenset(user.roles),
        groups=frozenset(user.groups),
        unit=user.unit,
    )


def get(session: Session, name: str) -> User:
    user = session.get(User, name)
    if user is None:
        raise NotFound(f"no user {name!r}; `idara users list` shows who exists")
    return user


def add(
    session: Session,
    name: str,
    display_name: str,
    roles: list[str],
    by: str,
    groups: list[str] | None = None,
    unit: str | None = None,
    password: str | None = None,
) -> User:
    if not NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is not a user name: use 1-64 lowercase letters, digits, '.', '_' or '-'"
        )
    _check_roles(roles)
    if session.get(User, name) is not None:
        raise Conflict(f"user {name!r} exists already")
    user = User(
        name=name,
        display_name=display_name or name,
        roles=sorted(set(roles)),
        groups=sorted(set(groups or [])),
        unit=unit or None,
        password_hash=_hashed(password) if password else None,
    )
    session.add(user)
    session.flush()
    chain.record(
        session,
        "user.added",
        by,
        {"user": name, "roles": user.roles, "groups": user.groups, "unit": user.unit},
    )
    return user


def _hashed(password: str) -> str:
    try:
        return passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise InvalidInput(str(exc)) from exc


def set_password(session: Session, name: str, password: str, by: str) -> None:
    user = get(session, name)
    user.password_hash = _hashed(password)
    session.add(user)
    throttle.clear(session, name)
    session.flush()
    chain.record(session, "user.password_set", by, {"user": name})


def unlock(session: Session, name: str, by: str) -> bool:
    """Lift a sign-in lock before it expires; whether there was one (or failures) to clear."""
    cleared = throttle.clear(session, name)
    if cleared:
        chain.record(session, "auth.unlocked", by, {"name": name})
    return cleared


def disable(session: Session, name: str, by: str) -> User:
    """Disable a user: their tokens and sessions stop working at once."""
    user = get(session, name)
    if not user.disabled:
        user.disabled = True
        session.add(user)
        session.flush()
        chain.record(session, "user.disabled", by, {"user": name})
    return user


def enable(session: Session, name: str, by: str) -> User:
    """Let a disabled user sign in again (their old tokens stay revoked only if revoked)."""
    user = get(session, name)
    if user.disabled:
        user.disabled = False
        session.add(user)
        session.flush()
        chain.record(session, "user.enabled", by, {"user": name})
    return user


def update(
    session: Session,
    name: str,
    by: str,
    *,
    display_name: str | None = None,
    roles: list[str] | None = None,
    groups: list[str] | None = None,
    unit: str | None = None,
) -> User:
    """Change what is given (``unit=""`` clears the unit); record what changed, if anything."""
    user = get(session, name)
    if roles is not None:
        _check_roles(roles)
    wanted: dict[str, object] = {}
    if display_name:
        wanted["display_name"] = display_name
    if roles is not None:
        wanted["roles"] = sorted(set(roles))
    if groups is not None:
        wanted["groups"] = sorted(set(groups))
    if unit is not None:
        wanted["unit"] = unit or None
    changed = {key: value for key, value in wanted.items() if getattr(user, key) != value}
    if changed:
        for key, value in changed.items():
            setattr(user, key, value)
        session.add(user)
        session.flush()
        chain.record(session, "user.updated", by, {"user": name, **changed})
    return user


def _check_roles(roles: list[str]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise InvalidInput(f"roles must be among {', '.join(ROLES)} (got {', '.join(roles)})")


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.name))).all())


def import_directory(session: Session, path: Path, by: str) -> list[str]:
    """Add the people of a directory file that the table does not hold yet; return their
    names. People already there are left as they are (ops may have changed them)."""
    added = []
    for actor in load_directory(path).values():
        if session.get(User, actor.name) is None:
            add(
                session,
                actor.name,
                actor.display_name,
                sorted(actor.roles),
                by,
                groups=sorted(actor.groups),
                unit=actor.unit,
            )
            added.append(actor.name)
    return added


def create_token(
    session: Session,
    name: str,
    label: str,
    by: str,
    ttl_days: int | None = None,
    kind: str = tokens.API,
) -> tuple[ApiToken, str]:
    """An API token (or, for the ``nodes`` service identity, a join token), shown once."""
    user = get(session, name)
    if user.disabled:
        raise Conflict(f"user {name!r} is disabled; enable them before creating a token")
    ttl = timedelta(days=ttl_days) if ttl_days else None
    row, token = tokens.issue(session, user, kind, label, ttl)
    session.flush()
    chain.record(
        session,
        "token.created",
        by,
        {
            "user": name,
            "token": row.id,
            "kind": kind,
            "label": label,
            "expires_in_days": ttl_days,
        },
    )
    return row, token


def revoke_token(session: Session, token_id: str, by: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id!r}; `idara tokens list` shows the token ids")
    if row.revoked_at is None:
        tokens.revoke(session, row)
        session.flush()
        chain.record(session, "token.revoked", by, {"user": row.user_name, "token": row.id})
    return row


def login(session: Session, name: str, password: str, settings: Settings) -> tuple[ApiToken, str]:
    """Check a password and open a session; a failure says nothing about which part was wrong.
    A name with too many failures in a row is refused for a while (``throttle``)."""
    tried = name[:64]
    throttle.refuse_if_locked(session, tried)
    user = session.get(User, name) if NAME.fullmatch(name) else None
    ok = passwords.verify(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        reason = "disabled" if user is not None and ok else "bad credentials"
        throttle.record_failure(session, tried, settings)
        chain.record(session, "auth.login_failed", tried, {"reason": reason})
        session.commit()
        raise Unauthorized(LOGIN_FAILED)
    throttle.clear(session, tried)
    ttl = timedelta(hours=settings.session_hours)
    row, token = tokens.issue(session, user, tokens.SESSION, "sign-in", ttl)
    session.flush()
    chain.record(session, "auth.login", name, {"session": row.id})
    return row, token


def logout(session: Session, row: ApiToken) -> None:
    tokens.revoke(session, row)
    session.flush()
    chain.record(session, "auth.logout", row.user_name, {"session": row.id})
