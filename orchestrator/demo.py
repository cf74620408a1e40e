"""What ``idara demo`` and the benchmarks file and who files it: the sample requests
(``seeds/requests/*.json``), and the clerk and supervisors the demo plays, each with an API
token made for the run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from orchestrator.audit import events
from orchestrator.auth import users
from orchestrator.db import make_engine
from orchestrator.settings import Settings
from orchestrator.stack import StackError

DEMO_CLERK = "amina"


@dataclass(frozen=True)
class DemoPerson:
    name: str
    groups: frozenset[str]
    token: str


def load_requests(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise StackError(f"no request files (*.json) in {directory}")
    return [(path.name, json.loads(path.read_text(encoding="utf-8"))) for path in files]


def demo_people(settings: Settings) -> dict[str, DemoPerson]:
    """The clerk and the supervisors the demo plays, each with an API token made for this run
    (valid one day), as ops would make them with ``idara tokens create``."""
    engine = make_engine(settings.effective_database_url)
    people = {}
    try:
        with Session(engine) as session:
            for user in users.list_users(session):
                if user.disabled or not (user.name == DEMO_CLERK or "supervisor" in user.roles):
                    continue
                _, token = users.create_token(session, user.name, "demo", events.SYSTEM, 1)
                people[user.name] = DemoPerson(user.name, frozenset(user.groups), token)
            session.commit()
    finally:
        engine.dispose()
    if DEMO_CLERK not in people:
        raise StackError(f"the demo files its requests as {DEMO_CLERK}, who is not an active user")
    return people
