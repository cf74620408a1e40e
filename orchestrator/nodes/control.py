"""Tell a node at once that ops cordoned, drained or uncordoned it.

The database is the truth, and a node reads it at each heartbeat (``workers.membership``);
this broadcast through the broker only makes the change take effect now rather than at the
next heartbeat. When Redis cannot be reached the heartbeat still carries the change."""

from __future__ import annotations

import logging

from agents.contract import node_queue
from orchestrator.nodes.models import Node, Schedule

log = logging.getLogger(__name__)


def tell(node: Node) -> None:
    # Celery loads here, on the first change, not with every `idara` command (the CLI imports
    # orchestrator.nodes.service, which calls this).
    from orchestrator.engine.dispatch import BROKER_ERRORS
    from workers.celery_app import get_celery

    celery_app = get_celery()
    destination = [f"node@{node.name}"]
    try:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
            queue = node_queue(node.name)
            if node.schedule == Schedule.active:
                celery_app.control.add_consumer(
                    queue, destination=destination, connection=connection
                )
            else:
                celery_app.control.cancel_consumer(
                    queue, destination=destination, connection=connection
                )
    except BROKER_ERRORS as exc:
        log.warning("node %s: broker unreachable (%s); its next heartbeat applies", node.name, exc)
