"""Which node runs an agent step, and moving a waiting step when its node can no longer take it.

The engine places each step on one node's queue (``node.<name>``): a ready, active node that
serves the step's model and has every label the step requires, preferring the requested pool,
then the least loaded (the steps it holds, queued or running, over its concurrency). While the
step waits there, the engine watches that node; once it stops beating or ops cordon or drain
it, the message is taken back from its queue and placed again. A node that took the message
first runs it: taking back is one atomic ``LREM``."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from agents.contract import node_of, node_queue
from orchestrator.cases.lifecycle import IN_FLIGHT_STEP_STATUSES
from orchestrator.cases.models import Case, CaseStatus, CaseStep
from orchestrator.db import session_scope
from orchestrator.engine import dispatch
from orchestrator.nodes import service as nodes
from orchestrator.nodes.models import Health, Node
from orchestrator.procedures.schemas import LlmStep
from orchestrator.settings import Settings, get_settings
from workers.celery_app import get_celery

log = logging.getLogger(__name__)

placing = threading.Lock()
"""Held from choosing a node until the step is recorded there, so that two steps placed at the
same instant by one engine count each other."""

NODES_FRESH_FOR_S = 1.0
"""How long the engine's view of which nodes can take steps is reused by waiting steps."""


def choose(session: Session, spec: LlmStep) -> Node:
    """The node the step goes to now; :class:`~orchestrator.nodes.service.NoNodeReady` (saying
    why) when none can take it."""
    eligible = nodes.require_serving(session, spec.model, spec.pool, get_settings(), spec.requires)
    if len(eligible) == 1:
        return eligible[0]
    return nodes.rank(eligible, spec.pool, in_flight(session))[0]


def in_flight(session: Session) -> dict[str, int]:
    """Steps each node holds now, queued or running, from the engines' own records. Every step
    a node runs is placed by an engine of this control plane, so this is exact, where a node's
    heartbeat is seconds old and counts only what runs."""
    rows = session.exec(
        select(CaseStep.queue, func.count())
        .join(Case, col(Case.id) == col(CaseStep.case_id))
        .where(col(Case.status) == CaseStatus.running)
        .where(col(CaseStep.status).in_(sorted(IN_FLIGHT_STEP_STATUSES)))
        .group_by(col(CaseStep.queue))
    ).all()
    counts = {}
    for queue, count in rows:
        node = node_of(queue or "")
        if node:
            counts[node] = int(count)
    return counts


class _Takers:
    """Which nodes can take a step now, read from the database at most once a second for all
    the steps an engine waits on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.read_at = -NODES_FRESH_FOR_S
        self.state: dict[str, str] = {}

    def why_not(self, name: str) -> str | None:
        """``None`` when the node can take steps, else why not (``not ready``, ``draining``…)."""
        with self.lock:
            if time.monotonic() - self.read_at >= NODES_FRESH_FOR_S:
                settings = get_settings()
                with session_scope() as session:
                    self.state = {
                        n.name: "" if nodes.can_take(n, settings) else _why(n, settings)
                        for n in nodes.list_nodes(session)
                    }
                self.read_at = time.monotonic()
            return self.state.get(name, "removed") or None


def _why(node: Node, settings: Settings) -> str:
    if nodes.health_of(node, settings) != Health.ready:
        return "not ready"
    return node.schedule.value


takers = _Takers()


@dataclass
class Placement:
    """One dispatched step: where it waits, and how to send it elsewhere.

    ``report(queue, detail)`` records a new queue (when it changed) and what the case says."""

    spec: LlmStep
    task_id: str
    payload: dict[str, Any]
    queue: str
    report: Callable[[str | None, str], None]
    said: str = field(default="")

    def resend(self) -> str | None:
        """The step was lost (Redis restarted empty, its node killed while running it): send it
        again, to the best node now, or back where it was when none can take it."""
        try:
            with placing, session_scope() as session:
                queue = node_queue(choose(session, self.spec).name)
        except nodes.NoNodeReady as exc:
            queue = self.queue
            self._say(f"step {self.spec.name}: waiting: {exc}")
        except dispatch.BrokerUnavailable:
            return None
        try:
            dispatch.send_step(get_celery(), self.task_id, self.spec.model, queue, self.payload)
        except dispatch.BrokerUnavailable:
            return None  # Redis is away: the next check tries again
        log.warning(
            "step %s: task %s was lost; sent again to %s", self.spec.name, self.task_id, queue
        )
        self.queue = queue
        self.report(queue, f"step {self.spec.name}: lost by its queue or node; sent again")
        return queue

    def move(self, queue: str) -> str | None:
        """The step waits in ``queue``: if that node can no longer take it, place it again."""
        node = node_of(queue)
        why = takers.why_not(node) if node else None
        if node is None or why is None:
            return None
        try:
            with placing, session_scope() as session:
                target = choose(session, self.spec).name
        except nodes.NoNodeReady as exc:
            self._say(f"step {self.spec.name}: waiting: {exc}")
            return None
        except dispatch.BrokerUnavailable:
            return None
        try:
            if not dispatch.take_back(get_celery(), queue, self.task_id):
                return None  # the node took it just now: it runs there
            self.queue = dispatch.send_step(
                get_celery(), self.task_id, self.spec.model, node_queue(target), self.payload
            )
        except (dispatch.BrokerUnavailable, *dispatch.BROKER_ERRORS):
            return None  # taken back but not sent: the lost-step check sends it again
        log.warning("step %s: node %s %s; moved to %s", self.spec.name, node, why, target)
        self.report(self.queue, f"step {self.spec.name}: node {node} {why}; moved to {target}")
        return self.queue

    def _say(self, detail: str) -> None:
        if detail != self.said:
            self.said = detail
            self.report(None, detail)
