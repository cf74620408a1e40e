"""A node's membership of a control plane: it registers with a join token, then heartbeats.

The heartbeat runs in the Celery worker's main process, as a consumer bootstep, because that
is where the worker decides which queues it consumes: the control plane's answer says whether
the node may take steps (``active``) or not (``cordoned``, ``draining``), and the node adds or
cancels its model queues to match. A node starts consuming nothing, so a node cordoned before
a restart takes no step after it. Running steps always finish."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from celery import bootsteps
from celery.worker import state as worker_state

log = logging.getLogger(__name__)
ACTIVE = "active"


class MembershipError(Exception):
    """The control plane refused the node or could not be reached in time."""


@dataclass
class Member:
    """What the node tells the control plane, and how to reach it."""

    control_plane: str
    token: str
    name: str
    pool: str
    labels: dict[str, str]
    models: list[str]
    concurrency: int
    facts: dict[str, Any] = field(default_factory=dict)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{self.control_plane.rstrip('/')}/api/v1/nodes{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
            trust_env=False,
        )
        if response.status_code in (401, 403):
            raise MembershipError(
                f"the control plane refused the join token ({response.status_code}: "
                f"{_detail(response)}); ask ops for a valid one (`idara nodes join-token create`)"
            )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def register(self) -> dict[str, Any]:
        return self._post(
            "/register",
            {
                "name": self.name,
                "pool": self.pool,
                "labels": self.labels,
                "models": self.models,
                "concurrency": self.concurrency,
                "facts": self.facts,
            },
        )

    def heartbeat(self, running: int, model_errors: dict[str, str]) -> dict[str, Any]:
        """Beat; a control plane that forgot the node (removed, new database) gets it again."""
        try:
            return self._post(
                f"/{self.name}/heartbeat", {"running": running, "model_errors": model_errors}
            )
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 404:
                raise
            return self.register()

    def register_within(self, timeout_s: float) -> dict[str, Any]:
        """Register, retrying while the control plane is not up yet (it may start after us)."""
        deadline, delay = time.monotonic() + timeout_s, 0.5
        while True:
            try:
                return self.register()
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                if time.monotonic() + delay > deadline:
                    raise MembershipError(
                        f"cannot register with the control plane at {self.control_plane} "
                        f"after {timeout_s:.0f} s: {exc}"
                    ) from exc
                log.warning("control plane not reachable yet (%s); retrying", exc)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]


class Heartbeats(bootsteps.StartStopStep):  # type: ignore[misc]
    """Consumer bootstep: heartbeat, and consume the model queues only while ``active``."""

    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}
    # set by `idara node start` before the worker starts (Celery builds the step itself)
    member: ClassVar[Member | None] = None
    queues: ClassVar[list[str]] = []
    interval_s: ClassVar[float] = 5.0
    # read by workers/metrics.py: when the control plane last answered a heartbeat
    # (time.monotonic()), and whether the node consumes its model queues
    last_answer_at: ClassVar[float | None] = None
    taking_steps: ClassVar[bool] = False

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.consumer: Any = None
        self.consuming = False

    def start(self, consumer: Any) -> None:
        """Called at start and again each time the consumer reconnects to the broker: the
        thread beats on across reconnections and uses the newest consumer."""
        self.consumer = consumer
        if self.member is None or (self.thread is not None and self.thread.is_alive()):
            return
        self.thread = threading.Thread(target=self._run, name="node-heartbeat", daemon=True)
        self.thread.start()

    def stop(self, consumer: Any) -> None:
        """A consumer restart (the broker was lost): keep beating, the node is still alive."""

    def shutdown(self, consumer: Any) -> None:
        self.stopping.set()

    def _run(self) -> None:
        assert self.member is not None
        while not self.stopping.is_set():
            consumer = self.consumer
            try:
                answer = self.member.heartbeat(len(worker_state.active_requests), {})
                Heartbeats.last_answer_at = time.monotonic()
                self._follow(consumer, answer.get("schedule", ACTIVE))
                interval = float(answer.get("heartbeat_s", self.interval_s))
            except MembershipError as exc:
                log.error("%s; taking no new step", exc)
                self._follow(consumer, "refused")
                interval = self.interval_s
            except Exception as exc:  # the control plane is away: keep working, keep trying
                log.warning("heartbeat failed: %s", exc)
                interval = self.interval_s
            self.stopping.wait(interval)

    def _follow(self, consumer: Any, schedule: str) -> None:
        wanted = schedule == ACTIVE
        if wanted == self.consuming:
            return
        self.consuming = Heartbeats.taking_steps = wanted
        for queue in self.queues:
            if wanted:
                consumer.call_soon(consumer.add_task_queue, queue)
            else:
                consumer.call_soon(consumer.cancel_task_queue, queue)
        name = self.member.name if self.member else "?"
        if wanted:
            log.warning("node %s: taking steps from %s", name, ", ".join(self.queues))
        else:
            log.warning("node %s: %s, taking no new step", name, schedule)
