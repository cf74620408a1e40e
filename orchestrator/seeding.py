"""What a new database gets before the stack serves it: the schema, the seed procedures, the
seed example banks and the seed people. Safe to run again: it adds only what is missing."""

from __future__ import annotations

from sqlmodel import Session

from orchestrator.audit import events
from orchestrator.auth import users
from orchestrator.db import make_engine, migrate
from orchestrator.examples.service import declared_banks, seed_directory
from orchestrator.procedures.service import definition_of, publish_directory
from orchestrator.settings import Settings


def prepare_database(settings: Settings) -> list[str]:
    """Migrate the schema, publish the seed procedures, fill their example banks and add the
    seed people not yet there; return the procedure names."""
    url = settings.effective_database_url
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            published = publish_directory(session, settings.procedures_dir)
            definitions = [definition_of(row) for row, _ in published]
            seed_directory(session, settings.examples_dir, declared_banks(definitions))
            users.import_directory(session, settings.users_file, events.SYSTEM)
            session.commit()
            return [f"{row.name} v{row.version}" for row, _ in published]
    finally:
        engine.dispose()
