"""Failed sign-ins: after ``login_failures_allowed`` failures in a row for one name, that name
is refused for ``login_lock_minutes`` (429 with Retry-After), the right password included.

Counted per name tried, whether or not a user has it, so the lock reveals nothing about who
exists; counted in the database with one atomic upsert, so it holds across API processes.
A success, a new password or an admin's unlock clears the count."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete
from sqlmodel import Session, col

from orchestrator.audit import chain
from orchestrator.auth.models import LoginThrottle
from orchestrator.db import as_utc, insert_for, utcnow
from orchestrator.errors import TooManyRequests
from orchestrator.settings import Settings


def refuse_if_locked(session: Session, name: str, now: datetime | None = None) -> None:
    """429 while ``name`` is locked; say when to come back."""
    row = session.get(LoginThrottle, name)
    until = as_utc(row.locked_until) if row is not None else None
    now = now or utcnow()
    if until is None or until <= now:
        return
    wait_s = max(1, math.ceil((until - now).total_seconds()))
    raise TooManyRequests(
        f"too many failed sign-ins for {name!r}; try again in {wait_s} s, or ask an admin "
        "to unlock it (`idara users unlock`)",
        wait_s,
    )


def record_failure(session: Session, name: str, settings: Settings) -> datetime | None:
    """Count a failure; return until when the name is now locked, if this one locked it.
    Failures older than the lock period are forgotten (the count restarts)."""
    now = utcnow()
    window_start = now - timedelta(minutes=settings.login_lock_minutes)
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    statement = insert_for(session, LoginThrottle).values(
        name=name, failures=1, first_failed_at=now, locked_until=None
    )
    stale = table.c.first_failed_at < window_start
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "first_failed_at": case((stale, now), else_=table.c.first_failed_at),
        },
    ).returning(table.c.failures)
    failures = session.execute(statement).scalar_one()
    if failures < settings.login_failures_allowed:
        return None
    until = now + timedelta(minutes=settings.login_lock_minutes)
    row = session.get(LoginThrottle, name, populate_existing=True)
    assert row is not None
    row.failures, row.first_failed_at, row.locked_until = 0, now, until
    session.add(row)
    session.flush()
    chain.record(
        session,
        "auth.locked",
        "system",
        {"name": name, "failures": failures, "until": until.isoformat()},
    )
    return until


def clear(session: Session, name: str) -> bool:
    """Forget ``name``'s failures and lock; whether there was anything to forget."""
    result = session.execute(delete(LoginThrottle).where(col(LoginThrottle.name) == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]
