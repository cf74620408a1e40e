from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from orchestrator.db import utcnow


class StepExample(SQLModel, table=True):
    """One labelled request in the example bank of a procedure's classification step.

    ``source`` is ``seed`` (from ``seeds/examples/``) or, later, a supervisor's validation;
    ``text_sha256`` keeps the same example from being stored twice."""

    __tablename__ = "step_examples"
    __table_args__ = (
        UniqueConstraint(
            "procedure_name", "step_name", "text_sha256", "label", name="uq_step_examples_text"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    procedure_name: str = Field(max_length=100, index=True)
    step_name: str = Field(max_length=64)
    label: str = Field(max_length=64)
    language: str = Field(max_length=8)
    text: str = Field(sa_column=Column(Text, nullable=False))
    text_sha256: str = Field(max_length=64)
    source: str = Field(default="seed", max_length=100)
    enabled: bool = True
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
