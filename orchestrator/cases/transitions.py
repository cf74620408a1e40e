"""The one way a case changes status: a conditional UPDATE from the status it was read in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col

from orchestrator.cases.models import Case
from orchestrator.db import utcnow


def move_case(session: Session, case_id: str, expected: str, **values: Any) -> bool:
    """Update the case only if it is still ``expected``; returns whether it was. Does not
    commit: the caller commits this with whatever else belongs to the same change."""
    result = session.execute(
        update(Case)
        .where(col(Case.id) == case_id, col(Case.status) == expected)
        .values(updated_at=utcnow(), **values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
