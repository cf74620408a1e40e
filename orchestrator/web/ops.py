"""The ops page: nodes (state, labels, heartbeat age, models, load) with cordon, drain and
uncordon buttons, the nodes' queues and their depth, and the model catalogue with the state of
its signature and what each node reported of each model."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agents import catalogue
from agents.catalogue import Catalogue
from agents.contract import node_queue
from agents.errors import ModelUnavailableError
from agents.manifest import ModelEntry, parse_manifest, read_manifest_bytes
from orchestrator.auth.deps import ManageNodes, ReadNodes
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.errors import NotFound
from orchestrator.metrics import queue_lengths
from orchestrator.nodes import service as nodes
from orchestrator.nodes.models import Schedule
from orchestrator.nodes.schemas import NodeOut
from orchestrator.settings import Settings
from orchestrator.web import labels
from orchestrator.web.forms import PostedForm
from orchestrator.web.i18n import N_
from orchestrator.web.render import page_for
from orchestrator.web.session import see_other

router = APIRouter(prefix="/ui/ops", include_in_schema=False)
ACTIONS = {"cordon": Schedule.cordoned, "drain": Schedule.draining, "uncordon": Schedule.active}
BUTTONS = (("cordon", N_("Cordon")), ("drain", N_("Drain")), ("uncordon", N_("Uncordon")))
BUTTON_NAMES = {
    "cordon": N_("Cordon %(node)s"),
    "drain": N_("Drain %(node)s"),
    "uncordon": N_("Uncordon %(node)s"),
}


def allowed(node: NodeOut) -> set[str]:
    """The buttons that change something: a node is never cordoned or drained twice."""
    return {name for name, schedule in ACTIONS.items() if node.schedule != schedule}


@dataclass
class ModelState:
    entry: ModelEntry
    loaded_on: list[str] = field(default_factory=list)
    refused_on: dict[str, str] = field(default_factory=dict)


@dataclass
class CatalogueState:
    signed: bool
    detail: str
    models: list[ModelState]


@router.get("")
def ops_page(
    request: Request, session: SessionDep, settings: SettingsDep, actor: ReadNodes
) -> Response:
    page = page_for(request, session, settings, actor)
    shown = [NodeOut.of(node, settings) for node in nodes.list_nodes(session)]
    queues = sorted(node_queue(node.name) for node in shown)
    return page.render(
        "ops.html",
        nodes=shown,
        queues=queue_lengths(settings.effective_redis_url, queues),
        queue_names=queues,
        models=_catalogue_state(settings, shown),
        labels=labels,
        actions=BUTTONS,
        action_labels=BUTTON_NAMES,
        allowed=allowed,
    )


@router.post("/nodes/{name}/{action}")
def schedule(
    name: str, action: str, session: SessionDep, actor: ManageNodes, form: PostedForm
) -> Response:
    """Cordon (take nothing new), drain (take nothing new, finish what runs) or uncordon."""
    if action not in ACTIONS:
        raise NotFound(f"no node action {action!r}; use cordon, drain or uncordon")
    nodes.change_schedule(session, name, ACTIONS[action], actor.name)
    return see_other("/ui/ops")


def _catalogue_state(settings: Settings, shown: list[NodeOut]) -> CatalogueState:
    """The signature is checked on each view (cheap); the files' sha256 are what the nodes
    checked when they loaded them, as their heartbeats report."""
    where = Catalogue.from_settings(settings)
    try:
        data = read_manifest_bytes(where.manifest)
        entries = parse_manifest(data, where.manifest)
    except ModelUnavailableError as exc:
        return CatalogueState(False, str(exc), [])
    signed, detail = catalogue.signature_state(where, data)
    models = []
    for entry in entries.values():
        state = ModelState(entry)
        for node in shown:
            if entry.name in node.models:
                state.loaded_on.append(node.name)
            if entry.name in node.model_errors:
                state.refused_on[node.name] = node.model_errors[entry.name]
        models.append(state)
    return CatalogueState(signed, detail, models)
