"""Alembic environment: one migration history for SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import orchestrator.approvals.models
import orchestrator.audit.models
import orchestrator.auth.models
import orchestrator.cases.models
import orchestrator.examples.models
import orchestrator.nodes.models
import orchestrator.procedures.models  # noqa: F401  (register the tables)
from orchestrator.db import make_engine

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
