"""Celery tasks: thin wrappers that run one agent step on this node's model.

The task's name, its arguments and its reply are ``agents.contract``'s; the task is registered
with ``shared_task``, on the app the worker runs (``workers.celery_app.get_celery``)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from celery import shared_task
from celery.signals import worker_process_init

from agents.contract import ALIVE_TTL_S, TASK_NAME, FailedReply, OkReply, alive_key
from agents.errors import AgentError
from agents.steps import StepRequest, run_step
from workers import metrics, node
from workers.celery_app import get_celery
from workers.settings import get_node_settings


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _load_models_in_child(**_: Any) -> None:
    node.load_models()


class Heartbeat:
    """While a step runs, a key that expires ``ALIVE_TTL_S`` after the last beat says so: the
    engine sends a step again only when it is neither queued nor alive (a node killed with its
    step, Redis restarted empty)."""

    def __init__(self, task_id: str) -> None:
        self.key = alive_key(task_id)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=2)

    def _beat(self) -> None:
        client = get_celery().backend.client
        while True:
            # Redis down: no beat; the engine waits, then sends the step again
            with contextlib.suppress(Exception):
                client.set(self.key, node.node_name(), ex=ALIVE_TTL_S)
            if self.stop.wait(ALIVE_TTL_S / 3):
                return


@shared_task(name=TASK_NAME, bind=True)  # type: ignore[untyped-decorator]
def run_agent_step(self: Any, model: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one step. Known failures come back as a ``FailedReply`` with a reason for the case."""
    name, sha256 = node.node_name(), None
    with metrics.step(model) as counted, Heartbeat(self.request.id):
        try:
            runtime = node.runtime_for(model)
            sha256 = runtime.sha256
            request = StepRequest.from_payload(payload)
            result = run_step(runtime, request, get_node_settings().max_step_tokens)
        except AgentError as exc:
            failed = FailedReply.of(exc, model=model, node=name, model_sha256=sha256)
            return counted.done(failed.to_wire())
        ok = OkReply(model=model, node=name, model_sha256=sha256, result=result)
        return counted.done(ok.to_wire())
