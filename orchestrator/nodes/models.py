"""What the control plane knows of each node: what it is, what it serves, how it is doing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from orchestrator.db import utcnow


class Schedule(StrEnum):
    """What ops asked of a node; kept in the database, so it survives restarts of both."""

    active = "active"
    cordoned = "cordoned"  # takes no new step; running ones go on
    draining = "draining"  # cordoned, and ops wait for its running steps to end


class Health(StrEnum):
    ready = "ready"
    not_ready = "not_ready"  # heartbeats missed


class Node(SQLModel, table=True):
    __tablename__ = "nodes"

    name: str = Field(primary_key=True, max_length=64)
    pool: str = Field(default="default", max_length=64)
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    models: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    model_errors: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    concurrency: int = 1
    running: int = 0
    schedule: Schedule = Field(default=Schedule.active, max_length=16)
    health: Health = Field(default=Health.ready, max_length=16)
    registered_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    last_heartbeat_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
