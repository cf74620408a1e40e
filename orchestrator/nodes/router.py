"""``/api/v1/nodes``: nodes register and heartbeat (with a join token); ops list, cordon,
drain and uncordon them (no case content here). Each change is a use case of
:mod:`orchestrator.nodes.service`, which commits it."""

from __future__ import annotations

from fastapi import APIRouter, Response

from orchestrator.auth.deps import ManageNodes, ReadNodes, ReportNode
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.nodes import service
from orchestrator.nodes.models import Schedule
from orchestrator.nodes.schemas import HeartbeatIn, Instructions, NodeOut, RegistrationIn
from orchestrator.settings import Settings

router = APIRouter(prefix="/api/v1/nodes", tags=["nodes"])


@router.post("/register", response_model=Instructions)
def register(
    data: RegistrationIn, session: SessionDep, settings: SettingsDep, _: ReportNode
) -> Instructions:
    """A node joins (or rejoins after a restart) with a join token."""
    node = service.register(session, service.Registration(**data.model_dump()))
    return Instructions.of(node, settings)


@router.post("/{name}/heartbeat", response_model=Instructions)
def heartbeat(
    name: str, data: HeartbeatIn, session: SessionDep, settings: SettingsDep, _: ReportNode
) -> Instructions:
    """A node is alive; the answer says whether it may take new steps."""
    node = service.heartbeat(session, name, data.running, data.model_errors)
    return Instructions.of(node, settings)


@router.get("", response_model=list[NodeOut])
def list_nodes(session: SessionDep, settings: SettingsDep, _: ReadNodes) -> list[NodeOut]:
    """Every node: state, labels, models, load and heartbeat age."""
    return [NodeOut.of(node, settings) for node in service.list_nodes(session)]


def _schedule(
    name: str, schedule: Schedule, session: SessionDep, settings: Settings, by: str
) -> NodeOut:
    return NodeOut.of(service.change_schedule(session, name, schedule, by), settings)


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
    return Response(status_code=204)
