"""What ``/api/v1/nodes`` takes and answers; :class:`NodeOut` is also what the ops page and
``idara nodes list`` show of a node."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from orchestrator.db import utc, utcnow
from orchestrator.nodes import service
from orchestrator.nodes.models import Health, Node, Schedule
from orchestrator.settings import Settings

NODE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
LABEL = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$"


class RegistrationIn(BaseModel):
    name: str = Field(pattern=NODE_NAME)
    pool: str = Field(default="default", pattern=LABEL)
    labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    models: list[str] = Field(default_factory=list, max_length=32)
    concurrency: int = Field(default=1, ge=1, le=256)
    facts: dict[str, Any] = Field(
        default_factory=dict, description="CPU cores, RAM, GPUs, llama.cpp backend, version"
    )


class HeartbeatIn(BaseModel):
    running: int = Field(default=0, ge=0, le=10_000)
    model_errors: dict[str, str] = Field(default_factory=dict, max_length=32)


class Instructions(BaseModel):
    """What the control plane tells a node at each registration and heartbeat."""

    schedule: Schedule = Field(description="active: take steps; cordoned or draining: take none")
    heartbeat_s: float

    @classmethod
    def of(cls, node: Node, settings: Settings) -> Instructions:
        return cls(schedule=node.schedule, heartbeat_s=settings.node_heartbeat_s)


class NodeOut(BaseModel):
    name: str
    pool: str
    labels: dict[str, str]
    models: list[str]
    model_errors: dict[str, str]
    facts: dict[str, Any]
    concurrency: int
    running: int
    schedule: Schedule
    health: Health
    state: str = Field(description="ready, not_ready, cordoned, draining or drained")
    heartbeat_age_s: float
    registered_at: datetime
    last_heartbeat_at: datetime

    @classmethod
    def of(cls, node: Node, settings: Settings) -> NodeOut:
        health = service.health_of(node, settings)
        return cls(
            **node.model_dump(exclude={"health"}),
            health=health,
            state=service.state_of(node, health),
            heartbeat_age_s=round((utcnow() - utc(node.last_heartbeat_at)).total_seconds(), 1),
        )
