"""The Celery app, configured so that a crash or restart loses no task (docs/reliability.md).

No app is built at import: :func:`get_celery` builds the process's app on first use (a node's
``idara node start``, the engine's first send), so importing a module that names a queue, or
the ops page, connects to nothing. The task and queue names are ``agents.contract``'s."""

from __future__ import annotations

from functools import lru_cache

from celery import Celery
from celery.backends.redis import RedisBackend

from workers.settings import NodeSettings, get_node_settings


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


def make_celery(settings: NodeSettings | None = None) -> Celery:
    """A Celery app on the settings' Redis (the node's own settings when none are given)."""
    settings = settings or get_node_settings()
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


@lru_cache(maxsize=1)
def get_celery() -> Celery:
    """This process's Celery app, built on first use from the node settings."""
    return make_celery()
