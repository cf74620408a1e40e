"""``/api/v1/nodes``: nodes register and heartbeat (with a join token); ops list, cordon,
drain and uncordon them (no case content here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from orchestrator.auth.deps import ManageNodes, ReadNodes, ReportNode
from orchestrator.db import utc, utcnow
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.nodes import control, service
from orchestrator.nodes.models import Health, Node, Schedule
from orchestrator.settings import Settings

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])

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
            state=state_of(node, health),
            heartbeat_age_s=round((utcnow() - utc(node.last_heartbeat_at)).total_seconds(), 1),
        )


def state_of(node: Node, health: Health) -> str:
    """One word for ops: not_ready first, then what ops asked, drained once nothing runs."""
    if health == Health.not_ready:
        return "not_ready"
    if node.schedule == Schedule.draining and node.running == 0:
        return "drained"
    return node.schedule.value if node.schedule != Schedule.active else "ready"


def _instructions(node: Node, settings: Settings) -> Instructions:
    return Instructions(schedule=node.schedule, heartbeat_s=settings.node_heartbeat_s)


@router.post("/register", response_model=Instructions)
def register(
    data: RegistrationIn, session: SessionDep, settings: SettingsDep, _: ReportNode
) -> Instructions:
    """A node joins (or rejoins after a restart) with a join token."""
    node = service.register(session, service.Registration(**data.model_dump()))
    session.commit()
    return _instructions(node, settings)


@router.post("/{name}/heartbeat", response_model=Instructions)
def heartbeat(
    name: str, data: HeartbeatIn, session: SessionDep, settings: SettingsDep, _: ReportNode
) -> Instructions:
    """A node is alive; the answer says whether it may take new steps."""
    node = service.heartbeat(session, name, data.running, data.model_errors)
    session.commit()
    return _instructions(node, settings)


@router.get("", response_model=list[NodeOut])
def list_nodes(session: SessionDep, settings: SettingsDep, _: ReadNodes) -> list[NodeOut]:
    """Every node: state, labels, models, load and heartbeat age."""
    return [NodeOut.of(node, settings) for node in service.list_nodes(session)]


def _schedule(
    name: str, schedule: Schedule, session: SessionDep, settings: Settings, by: str
) -> NodeOut:
    node = service.set_schedule(session, name, schedule, by)
    session.commit()
    control.tell(node)
    return NodeOut.of(node, settings)


@router.post("/{name}/cordon", response_model=NodeOut)
def cordon(name: str, session: SessionDep, settings: SettingsDep, actor: ManageNodes) -> NodeOut:
    """Take no new step on this node; the running ones go on."""
    return _schedule(name, Schedule.cordoned, session, settings, actor.name)


@router.post("/{name}/drain", response_model=NodeOut)
def drain(name: str, session: SessionDep, settings: SettingsDep, actor: ManageNodes) -> NodeOut:
    """Take no new step and let the running ones finish; its state becomes ``drained``."""
    return _schedule(name, Schedule.draining, session, settings, actor.name)


@router.post("/{name}/uncordon", response_model=NodeOut)
def uncordon(name: str, session: SessionDep, settings: SettingsDep, actor: ManageNodes) -> NodeOut:
    """Let the node take steps again."""
    return _schedule(name, Schedule.active, session, settings, actor.name)


@router.delete("/{name}", status_code=204)
def remove(
    name: str, session: SessionDep, settings: SettingsDep, actor: ManageNodes, force: bool = False
) -> Response:
    """Forget a node that is gone (409 while it still sends heartbeats, unless ``force``)."""
    service.remove(session, name, actor.name, settings, force)
    session.commit()
    return Response(status_code=204)
