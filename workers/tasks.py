"""Celery tasks: thin wrappers that run one agent step on this node's model."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from celery.signals import worker_process_init

from agents.errors import AgentError
from agents.steps import StepRequest, run_step
from orchestrator.settings import get_settings
from workers import metrics, node
from workers.celery_app import ALIVE_TTL_S, alive_key, celery_app


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
        client = celery_app.backend.client
        while True:
            # Redis down: no beat; the engine waits, then sends the step again
            with contextlib.suppress(Exception):
                client.set(self.key, node.node_name(), ex=ALIVE_TTL_S)
            if self.stop.wait(ALIVE_TTL_S / 3):
                return


@celery_app.task(name="idara.run_agent_step", bind=True)  # type: ignore[untyped-decorator]
def run_agent_step(self: Any, model: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one step. Known failures come back as ``ok: false`` with a reason for the case."""
    base = {"model": model, "node": node.node_name()}
    with metrics.step(model) as counted, Heartbeat(self.request.id):
        try:
            runtime = node.runtime_for(model)
            base["model_sha256"] = runtime.sha256
            request = StepRequest.from_payload(payload)
            result = run_step(runtime, request, get_settings().max_step_tokens)
        except AgentError as exc:
            error = {"error": str(exc), "error_type": type(exc).__name__}
            return counted.done({**base, "ok": False, **error})
        return counted.done({**base, "ok": True, "result": result.to_payload()})
