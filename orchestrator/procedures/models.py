from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from orchestrator.db import utcnow


class Procedure(SQLModel, table=True):
    """A published procedure version. Immutable once written: a change is a new version."""

    __tablename__ = "procedures"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_procedures_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, index=True)
    version: int
    title: str = Field(max_length=200)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    definition_sha256: str = Field(max_length=64)
    published_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
