"""Celery tasks: thin wrappers that run one agent step on this node's model."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init

from agents.errors import AgentError
from agents.steps import StepRequest, run_step
from workers import node
from workers.celery_app import celery_app


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _load_models_in_child(**_: Any) -> None:
    node.load_models()


@celery_app.task(name="idara.run_agent_step", bind=False)  # type: ignore[untyped-decorator]
def run_agent_step(model: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one step. Known failures come back as ``ok: false`` with a reason for the case."""
    base = {"model": model, "node": node.node_name()}
    try:
        runtime = node.runtime_for(model)
        base["model_sha256"] = runtime.sha256
        result = run_step(runtime, StepRequest.from_payload(payload))
    except AgentError as exc:
        return {**base, "ok": False, "error": str(exc), "error_type": type(exc).__name__}
    return {**base, "ok": True, "result": result.to_payload()}
