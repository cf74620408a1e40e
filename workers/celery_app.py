"""The Celery app, configured so that a crash or restart loses no task (see DESIGN.md)."""

from __future__ import annotations

from celery import Celery
from celery.backends.redis import RedisBackend

from orchestrator.settings import Settings, get_settings

ALIVE_TTL_S = 9
"""A running step's heartbeat key expires this long after its node stopped beating."""


def alive_key(task_id: str) -> str:
    return f"idara:alive:{task_id}"


def node_queue(node: str) -> str:
    """The queue of one node: the engine places each step on the node it chose."""
    return f"node.{node}"


def node_of(queue: str) -> str | None:
    """The node whose queue this is (``None`` for another queue)."""
    prefix, _, node = queue.partition(".")
    return node if prefix == "node" and node else None


def idle_queue(node: str) -> str:
    """Where a node listens while it may take no step: nothing is ever sent there (a Celery
    worker needs a queue to start with)."""
    return f"idle.{node}"


class PolledRedisBackend(RedisBackend):  # type: ignore[misc]
    """Redis results, read by polling only.

    Celery's Redis backend subscribes to a pub/sub channel for every task it sends. With Redis
    down, that subscription retries for about 20 s, then raises a RuntimeError that leaves the
    app unusable until restart. The engine does not use that subscription (it reads the task's
    state, woken by a subscription of its own that it drops and makes again when Redis comes
    back, see ``orchestrator.engine.dispatch``), so it is skipped and a send to a stopped Redis
    fails in about a second with a connection error the engine handles."""

    def on_task_call(self, producer: object, task_id: str) -> None:
        return None


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    url = settings.effective_redis_url
    # Above the longest step, or Redis hands an unacknowledged task to a second worker.
    visibility = int(settings.step_timeout_s * 2 + 60)
    backend = f"{__name__}:{PolledRedisBackend.__name__}+{url}"
    app = Celery("idara", broker=url, backend=backend, include=["workers.tasks"])
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        result_expires=7 * 24 * 3600,
        result_extended=False,
        broker_transport_options={"visibility_timeout": visibility},
        result_backend_transport_options={"visibility_timeout": visibility},
        broker_connection_retry_on_startup=True,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        worker_proc_alive_timeout=120.0,
        task_default_queue="idara.default",
        enable_utc=True,
    )
    return app


celery_app = make_celery()
