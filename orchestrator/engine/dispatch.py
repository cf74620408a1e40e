"""Sending an agent step to a node's queue and waiting for its result."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from agents.contract import TASK_NAME, alive_key

BROKER_ERRORS = (OperationalError, RedisError, ConnectionError, OSError)


ACCOUNT_EVERY_S = 1.0
"""How often a waiting engine checks that its step is still queued or running."""


class BrokerUnavailable(Exception):
    """Redis cannot be reached; the step was not sent and can be sent again later."""


class StepTimeout(Exception):
    """No node returned a result in time."""


class StepCrashed(Exception):
    """The task raised instead of returning a result (a bug or a node failure)."""


def send_step(app: Celery, task_id: str, model: str, queue: str, payload: dict[str, Any]) -> str:
    """Queue the step on ``queue`` (a node's, ``node.<name>``); return the queue's name."""
    try:
        app.send_task(
            TASK_NAME,
            args=[model, payload],
            task_id=task_id,
            queue=queue,
            retry=True,
            retry_policy={
                "max_retries": 2,
                "interval_start": 0.2,
                "interval_step": 0.5,
                "interval_max": 1.0,
            },
        )
    except BROKER_ERRORS as exc:
        raise BrokerUnavailable(f"message broker unreachable: {exc}") from exc
    return queue


def task_meta(app: Celery, task_id: str) -> dict[str, Any]:
    """The task's state in the result backend (``PENDING`` when unknown)."""
    try:
        return app.backend.get_task_meta(task_id)  # type: ignore[no-any-return]
    except BROKER_ERRORS as exc:
        raise BrokerUnavailable(f"result backend unreachable: {exc}") from exc


def is_queued(app: Celery, queue: str, task_id: str) -> bool:
    """The step's message still waits in its queue for a node."""
    client = app.backend.client
    return any(task_id.encode() in message for message in client.lrange(queue, 0, -1))


def take_back(app: Celery, queue: str, task_id: str) -> bool:
    """Remove the step's message from ``queue`` before a node takes it; ``False`` when it is
    no longer there (a node took it: it runs there)."""
    client = app.backend.client
    for message in client.lrange(queue, 0, -1):
        if task_id.encode() in message:
            return bool(client.lrem(queue, 1, message))
    return False


def is_alive(app: Celery, task_id: str) -> bool:
    """A node is running the step now (its heartbeat key has not expired)."""
    return bool(app.backend.client.exists(alive_key(task_id)))


def wait_for_result(
    app: Celery,
    task_id: str,
    timeout_s: float,
    on_started: Callable[[], None] | None = None,
    resend: Callable[[], str | None] | None = None,
    queue: str = "",
    lost_after_s: float = 15.0,
    move: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """Poll the result backend until the task finishes; Redis blips are waited out.

    A step that is neither finished, queued nor running (Redis restarted empty, its node
    killed) for ``lost_after_s`` is ``resend``: dispatch is at least once, and the engine stores
    the first result it sees, once. While the step waits in ``queue``, ``move(queue)`` may
    place it elsewhere (its node stopped beating or was cordoned). Both return the queue the
    step is in afterwards, or ``None`` when it did not change."""
    deadline = time.monotonic() + timeout_s
    started_seen = False
    seen_at = checked_at = time.monotonic()
    with _Wakeup(app, task_id) as wakeup:
        while time.monotonic() < deadline:
            try:
                meta = task_meta(app, task_id)
            except BrokerUnavailable:
                meta = {"status": "UNKNOWN"}
            status = meta.get("status")
            if status == "SUCCESS":
                return meta["result"]  # type: ignore[no-any-return]
            if status in {"FAILURE", "REVOKED"}:
                raise StepCrashed(f"task {status.lower()}: {meta.get('result')!r}")
            if status == "STARTED" and not started_seen and on_started is not None:
                started_seen = True
                on_started()
            now = time.monotonic()
            if now - checked_at >= ACCOUNT_EVERY_S:
                checked_at = now
                if resend is not None:
                    whereabouts = _whereabouts(app, queue, task_id)
                    if whereabouts == "queued" and move is not None:
                        queue = move(queue) or queue
                    if whereabouts != "lost":
                        seen_at = now
                    elif now - seen_at > lost_after_s:
                        queue = resend() or queue
                        seen_at = now
            until_check = checked_at + ACCOUNT_EVERY_S - time.monotonic()
            wakeup.wait(max(0.0, min(until_check, deadline - time.monotonic())))
    raise StepTimeout(f"no result within {timeout_s:.0f} s")


class _Wakeup:
    """Sleeps until the task's state changes, pushed by Redis: Celery's Redis backend
    publishes every state it stores (``STARTED``, the result) on the key it stores it under,
    so a waiting engine subscribes there instead of polling. The first wait only subscribes
    and returns, so a state stored before the subscription is read by the caller. Without
    pub/sub (Redis away, a backend without it) it sleeps a short while and tries again."""

    POLL_S = 0.25

    def __init__(self, app: Celery, task_id: str) -> None:
        self.client = getattr(app.backend, "client", None)
        self.channel = _result_key(app, task_id)
        self.pubsub: Any = None

    def __enter__(self) -> _Wakeup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, seconds: float) -> None:
        if self.client is None or self.channel is None:
            time.sleep(min(seconds, self.POLL_S))
            return
        try:
            if self.pubsub is None:
                self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(self.channel)
                return
            self.pubsub.get_message(timeout=seconds)
        except BROKER_ERRORS:
            self.close()  # subscribe again once Redis is back
            time.sleep(min(seconds, self.POLL_S))

    def close(self) -> None:
        if self.pubsub is not None:
            with contextlib.suppress(*BROKER_ERRORS):
                self.pubsub.close()
            self.pubsub = None


def _result_key(app: Celery, task_id: str) -> bytes | None:
    key_for = getattr(app.backend, "get_key_for_task", None)
    return key_for(task_id) if callable(key_for) else None


def _whereabouts(app: Celery, queue: str, task_id: str) -> str:
    """``running``, ``queued`` or ``lost``; an unreachable Redis counts as ``unknown``, so
    nothing is resent or moved."""
    try:
        if is_alive(app, task_id):
            return "running"
        return "queued" if is_queued(app, queue, task_id) else "lost"
    except BROKER_ERRORS:
        return "unknown"
