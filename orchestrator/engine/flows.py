"""Orchestration: a case is one Prefect flow run; each agent step is a task sent to Celery.

Step results are stored per case as they arrive, so a case that stops half-way resumes from the
first step that has no result, without paying again for the finished ones.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from agents.steps import StepContext, StepRequest
from orchestrator.cases.models import CaseStatus, CaseStep, StepStatus
from orchestrator.db import session_scope, utcnow
from orchestrator.engine import dispatch, state
from orchestrator.procedures.schemas import LlmStep
from orchestrator.settings import get_settings
from workers.celery_app import celery_app


class StepFailed(Exception):
    """A step ended without a usable result; the case fails with this message."""


def build_context(run: state.CaseRun, outputs: dict[str, dict[str, Any]]) -> StepContext:
    case = run.case
    return StepContext(
        text=case.request_text,
        language=case.language,
        reference=case.reference,
        submitted_on=f"{case.created_at:%Y-%m-%d}",
        applicant=dict(case.applicant),
        outputs=dict(outputs),
    )


def _recover_result(step: CaseStep) -> dict[str, Any] | None:
    """A step dispatched by an engine that died: take its result if the node finished it."""
    if step.status not in {StepStatus.dispatched, StepStatus.running} or not step.task_id:
        return None
    meta = dispatch.task_meta(celery_app, step.task_id)
    return meta["result"] if meta.get("status") == "SUCCESS" else None


@task(name="llm-step", cache_policy=NONE, retries=0)
def run_llm_step(case_id: str, step_id: int, spec: LlmStep, context: StepContext) -> dict[str, Any]:
    """Send one step to the queue of a pool serving its model, wait, store the result."""
    settings = get_settings()
    request = StepRequest(
        agent=spec.agent,
        prompt=spec.prompt,
        prompt_version=spec.prompt_version,
        max_tokens=spec.max_tokens,
        context=context,
    )
    with session_scope() as session:
        step = session.get(CaseStep, step_id)
        assert step is not None
        reply = _recover_result(step)
        sent = time.perf_counter()
        if reply is None:
            task_id = str(uuid.uuid4())
            state.set_step(
                session,
                step_id,
                status=StepStatus.dispatched,
                task_id=task_id,
                model=spec.model,
                started_at=utcnow(),
                attempts=step.attempts + 1,
                input={
                    "agent": spec.agent,
                    "prompt": spec.prompt,
                    "prompt_version": spec.prompt_version,
                    "max_tokens": spec.max_tokens,
                    "uses_outputs_of": sorted(context.outputs),
                },
            )
            queue = dispatch.send_step(
                celery_app, task_id, spec.model, spec.pool, request.to_payload()
            )
            state.set_step(session, step_id, queue=queue)
            state.set_case(
                session,
                case_id,
                status_detail=f"step {spec.name}: queued on {queue}, "
                f"waiting for a node serving {spec.model}",
            )

            def started() -> None:
                state.set_step(session, step_id, status=StepStatus.running)
                state.set_case(session, case_id, status_detail=f"step {spec.name}: running")

            try:
                reply = dispatch.wait_for_result(
                    celery_app, task_id, settings.step_timeout_s, started
                )
            except dispatch.StepTimeout as exc:
                error = (
                    f"step {spec.name}: {exc}; is a node serving model {spec.model!r} "
                    f"on queue {queue} running?"
                )
                state.mark_step_failed(session, step, error)
                raise StepFailed(error) from exc
            except dispatch.StepCrashed as exc:
                state.mark_step_failed(session, step, f"step {spec.name}: {exc}")
                raise StepFailed(f"step {spec.name}: {exc}") from exc
        return _store_reply(session, step_id, spec.name, reply, time.perf_counter() - sent)


def _store_reply(
    session: Any, step_id: int, name: str, reply: dict[str, Any], latency_s: float
) -> dict[str, Any]:
    common = {
        "node": reply.get("node"),
        "model_sha256": reply.get("model_sha256"),
        "finished_at": utcnow(),
    }
    if not reply.get("ok"):
        error = f"step {name} failed on node {reply.get('node')}: {reply.get('error')}"
        state.set_step(session, step_id, status=StepStatus.failed, error=error, **common)
        raise StepFailed(error)
    result = reply["result"]
    state.set_step(
        session,
        step_id,
        status=StepStatus.succeeded,
        error=None,
        output=result["output"],
        notes=result["notes"],
        prompt_ref=result["prompt_ref"],
        prompt_sha256=result["prompt_sha256"],
        output_sha256=result["output_sha256"],
        prompt_tokens=result["prompt_tokens"],
        completion_tokens=result["completion_tokens"],
        model_ms=result["duration_ms"],
        tokens_per_s=result["tokens_per_s"],
        latency_ms=round(latency_s * 1000.0, 2),
        **common,
    )
    return result["output"]  # type: ignore[no-any-return]


@flow(name="case", flow_run_name="{reference}", log_prints=False, validate_parameters=False)
def run_case_flow(case_id: str, reference: str) -> str:
    """Run the case's pinned procedure version from its first unfinished step to the end."""
    with session_scope() as session:
        state.set_case(
            session, case_id, prefect_flow_run_id=str(flow_run.id or ""), status_detail="running"
        )
        run = state.load_run(session, case_id)
    outputs = {
        name: step.output
        for name, step in run.steps.items()
        if step.status == StepStatus.succeeded and step.output is not None
    }
    try:
        for spec in run.definition.steps:
            if spec.name in outputs:
                continue
            step = run.steps[spec.name]
            assert step.id is not None
            outputs[spec.name] = run_llm_step(case_id, step.id, spec, build_context(run, outputs))
    except StepFailed as exc:
        with session_scope() as session:
            state.fail_case(session, case_id, str(exc))
        return CaseStatus.failed
    except dispatch.BrokerUnavailable as exc:
        with session_scope() as session:
            state.requeue_case(session, case_id, str(exc), count_attempt=False)
        return CaseStatus.queued
    with session_scope() as session:
        state.complete_case(session, case_id)
    return CaseStatus.completed
