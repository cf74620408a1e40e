"""Registration, heartbeats, cordon and drain, and which nodes can take a step now.

A node is ``ready`` while its heartbeats arrive (``IDARA_NODE_NOT_READY_AFTER_S``); its
``schedule`` (active, cordoned, draining) is what ops asked and lives in the database, so it
survives restarts of the node and of the control plane. Every change is an audit entry.

The functions the faces call for a change (the API's routes, the ops page, ``idara nodes``) are
the use cases: each commits its change, and :func:`change_schedule` then tells the node. The
others (:func:`set_schedule`, :func:`mark_missing`) only flush, for a caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.audit import chain
from orchestrator.auth import tokens, users
from orchestrator.auth.models import ApiToken, User
from orchestrator.db import utc, utcnow
from orchestrator.errors import Conflict, NotFound
from orchestrator.nodes import control
from orchestrator.nodes.models import Health, Node, Schedule
from orchestrator.settings import Settings

SERVICE_USER = "nodes"
"""The service identity nodes act as; join tokens are its tokens (role ``node``)."""
JOIN = "join"


class NoNodeReady(Exception):
    """No ready, schedulable node serves the step's model: the case waits and says why."""


@dataclass(frozen=True)
class Registration:
    name: str
    pool: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    concurrency: int = 1
    facts: dict[str, Any] = field(default_factory=dict)


def get(session: Session, name: str) -> Node:
    node = session.get(Node, name)
    if node is None:
        raise NotFound(f"no node {name!r}; `idara nodes list` shows the registered nodes")
    return node


def parse_labels(text: str) -> dict[str, str]:
    """``gpu,site=rabat`` → ``{"gpu": "true", "site": "rabat"}`` (``IDARA_NODE_LABELS``)."""
    labels = {}
    for part in (p.strip() for p in text.split(",")):
        if part:
            key, _, value = part.partition("=")
            labels[key.strip()] = value.strip() or "true"
    return labels


def register(session: Session, data: Registration) -> Node:
    """Add the node, or refresh what it says of itself; its schedule is kept as ops left it.
    Committed."""
    node = session.get(Node, data.name)
    first = node is None
    if node is None:
        node = Node(name=data.name)
    node.pool, node.labels, node.models = data.pool, dict(data.labels), list(data.models)
    node.concurrency, node.facts = data.concurrency, dict(data.facts)
    node.model_errors, node.running = {}, 0
    node.health, node.last_heartbeat_at = Health.ready, utcnow()
    session.add(node)
    session.flush()
    chain.record(
        session,
        "node.registered",
        f"node:{data.name}",
        {
            "node": data.name,
            "first_time": first,
            "pool": data.pool,
            "labels": data.labels,
            "models": data.models,
            "schedule": node.schedule.value,
        },
        node=data.name,
    )
    session.commit()
    return node


def heartbeat(
    session: Session, name: str, running: int, model_errors: dict[str, str] | None = None
) -> Node:
    """A node says it is alive, how many steps it runs, and which models it could not load.
    Committed."""
    node = get(session, name)
    was = node.health
    node.running, node.model_errors = max(0, running), dict(model_errors or {})
    node.health, node.last_heartbeat_at = Health.ready, utcnow()
    session.add(node)
    session.flush()
    if was != Health.ready:
        chain.record(session, "node.ready", f"node:{name}", {"node": name}, node=name)
    session.commit()
    return node


SCHEDULE_EVENTS = {
    Schedule.active: "node.uncordoned",
    Schedule.cordoned: "node.cordoned",
    Schedule.draining: "node.drain_requested",
}


def set_schedule(session: Session, name: str, schedule: Schedule, by: str) -> Node:
    """Record what ops asked of the node (an audit entry when it changes); flushed, not
    committed, and the node is not told: :func:`change_schedule` is the use case."""
    node = get(session, name)
    if node.schedule != schedule:
        previous = node.schedule
        node.schedule = schedule
        session.add(node)
        session.flush()
        chain.record(
            session,
            SCHEDULE_EVENTS[schedule],
            by,
            {"node": name, "from": previous.value, "to": schedule.value},
            node=name,
        )
    return node


def change_schedule(session: Session, name: str, schedule: Schedule, by: str) -> Node:
    """Ops cordon, drain or uncordon a node: the change is committed, then the node is told
    at once (:func:`orchestrator.nodes.control.tell`; its next heartbeat carries it anyway)."""
    node = set_schedule(session, name, schedule, by)
    session.commit()
    control.tell(node)
    return node


def remove(session: Session, name: str, by: str, settings: Settings, force: bool = False) -> None:
    """Forget a node (a machine taken away); a ready one is refused unless ``force``.
    Committed."""
    node = get(session, name)
    if health_of(node, settings) == Health.ready and not force:
        raise Conflict(
            f"node {name!r} is ready (it still sends heartbeats); stop it first, or force"
        )
    session.delete(node)
    session.flush()
    chain.record(session, "node.removed", by, {"node": name}, node=name)
    session.commit()


def health_of(node: Node, settings: Settings, now: datetime | None = None) -> Health:
    """Ready while its last heartbeat is recent, whatever the stored value says."""
    cutoff = (now or utcnow()) - timedelta(seconds=settings.node_not_ready_after_s)
    return Health.ready if utc(node.last_heartbeat_at) >= cutoff else Health.not_ready


def state_of(node: Node, health: Health) -> str:
    """One word for ops: not_ready first, then what ops asked, drained once nothing runs."""
    if health == Health.not_ready:
        return "not_ready"
    if node.schedule == Schedule.draining and node.running == 0:
        return "drained"
    return node.schedule.value if node.schedule != Schedule.active else "ready"


def mark_missing(session: Session, settings: Settings) -> list[str]:
    """Mark ``not_ready`` the nodes whose heartbeats stopped; return their names."""
    missing = []
    for node in session.exec(select(Node).where(col(Node.health) == Health.ready)).all():
        if health_of(node, settings) == Health.not_ready:
            node.health = Health.not_ready
            session.add(node)
            session.flush()
            age = (utcnow() - utc(node.last_heartbeat_at)).total_seconds()
            chain.record(
                session,
                "node.not_ready",
                "system",
                {"node": node.name, "last_heartbeat_s_ago": round(age, 1)},
                node=node.name,
            )
            missing.append(node.name)
    return missing


def list_nodes(session: Session) -> list[Node]:
    return list(session.exec(select(Node).order_by(col(Node.name))).all())


def requirement_met(labels: dict[str, str], requirement: str) -> bool:
    """``gpu`` asks for a label ``gpu`` (any value); ``site=rabat`` for that value."""
    key, sep, value = requirement.partition("=")
    return key in labels and (not sep or labels[key] == value)


def lacks(node: Node, requires: Iterable[str]) -> list[str]:
    """The required labels ``node`` does not have."""
    return [r for r in requires if not requirement_met(node.labels, r)]


def can_take(node: Node, settings: Settings) -> bool:
    """Ready (heartbeats arrive) and active (not cordoned, not draining)."""
    return node.schedule == Schedule.active and health_of(node, settings) == Health.ready


def serving(
    session: Session, model: str, pool: str, settings: Settings, requires: Iterable[str] = ()
) -> list[Node]:
    """The nodes that can take a step on ``model`` needing labels ``requires`` now: ready,
    active, serving the model, with every label; best first (:func:`rank`). A node that refused
    the model's file still counts: the step sent there fails with the reason, which the case
    shows."""
    requires = list(requires)
    eligible = [
        node
        for node in session.exec(select(Node)).all()
        if model in node.models and can_take(node, settings) and not lacks(node, requires)
    ]
    return rank(eligible, pool)


def rank(eligible: list[Node], pool: str, held: Mapping[str, int] | None = None) -> list[Node]:
    """Best first: the requested ``pool``, then the least loaded: the steps a node holds
    (``held``: queued for it or running there, as the engine counts them) over its
    concurrency. Without ``held``, what its last heartbeat said it runs."""

    def key(node: Node) -> tuple[bool, float, str]:
        load = held.get(node.name, 0) if held is not None else node.running
        return (node.pool != pool, load / max(1, node.concurrency), node.name)

    return sorted(eligible, key=key)


def require_serving(
    session: Session, model: str, pool: str, settings: Settings, requires: Iterable[str] = ()
) -> list[Node]:
    """The nodes that can take the step now, best first (:func:`serving`); raise
    :class:`NoNodeReady`, saying why, when there is none."""
    eligible = serving(session, model, pool, settings, requires)
    if not eligible:
        raise NoNodeReady(why_none_serves(session, model, settings, requires))
    return eligible


def why_none_serves(
    session: Session, model: str, settings: Settings, requires: Iterable[str] = ()
) -> str:
    """What a case waiting for a node says: ``no ready node serves model X`` and why, node by
    node (not ready, cordoned, draining, or lacking a label)."""
    requires = list(requires)
    needing = f" with labels {','.join(requires)}" if requires else ""
    reason = f"no ready node serves model {model}{needing}"
    notes = []
    for node in list_nodes(session):
        if model not in node.models:
            continue
        missing = lacks(node, requires)
        if health_of(node, settings) != Health.ready:
            notes.append(f"{node.name} not ready")
        elif node.schedule != Schedule.active:
            notes.append(f"{node.name} {node.schedule.value}")
        elif missing:
            notes.append(f"{node.name} lacks {','.join(missing)}")
    return f"{reason} ({'; '.join(notes)})" if notes else reason


def service_user(session: Session, by: str) -> User:
    """The ``nodes`` service identity, created at the first join token."""
    user = session.get(User, SERVICE_USER)
    if user is None:
        user = users.add(session, SERVICE_USER, "Node service identity", ["node"], by)
    return user


def create_join_token(
    session: Session, label: str, by: str, days: int | None = None
) -> tuple[ApiToken, str]:
    """A token a node registers and heartbeats with; shown once, revocable. Committed."""
    service_user(session, by)
    made = users.create_token(session, SERVICE_USER, label, by, days, kind=JOIN)
    session.commit()
    return made


def join_tokens(session: Session) -> list[ApiToken]:
    return tokens.user_tokens(session, kind=JOIN)
