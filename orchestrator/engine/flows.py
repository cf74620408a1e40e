"""Orchestration: a case runs as one Prefect task run, from its first unfinished step until it
ends or reaches a human approval. Agent (llm) steps are Celery tasks on a node's queue; rule,
tool and deliver steps run here, as plain calls inside the case's task run.

Step results are stored per case as they arrive, so a case that stops half-way (a failure, an
approval, an engine restart) resumes from the first step that has no result, without paying
again for the finished ones. An approval decision queues the case again: the next task run is
the continuation.

Why a task run per case, and no flow run per case nor task run per step (docs/architecture.md):
a flow run costs several calls to the Prefect server per case, where a task run is created here
and reported by state events (which the server's task run recorder turns into a run). idara
records every step itself (the step rows and the audit log), so Prefect shows each engine run
of a case: when, and how it ended.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from prefect.runtime import task_run

from agents import evidence
from agents.contract import ErrorKind, FailedReply, MalformedReply, node_queue, parse_reply
from agents.steps import StepContext, StepRequest, output_sha256, prompt_of
from orchestrator.cases import lifecycle
from orchestrator.cases.lifecycle import DONE_STEP_STATUSES, IN_FLIGHT_STEP_STATUSES, StepFailed
from orchestrator.cases.models import CaseStatus, CaseStep, StepStatus
from orchestrator.db import session_scope, utcnow
from orchestrator.engine import dispatch, executors, placement, state
from orchestrator.engine.placement import Placement
from orchestrator.examples import service as bank
from orchestrator.nodes import service as nodes
from orchestrator.procedures.conditions import describe, holds
from orchestrator.procedures.derivation import approval_reads_agents
from orchestrator.procedures.schemas import (
    DeliverStep,
    HumanApprovalStep,
    LlmStep,
    ProcedureDefinition,
    RuleStep,
    Step,
    ToolStep,
)
from orchestrator.settings import get_settings
from workers.celery_app import get_celery

log = logging.getLogger(__name__)
AWAITING = "awaiting_approval"


def build_context(run: state.CaseRun, outputs: dict[str, dict[str, Any]]) -> StepContext:
    case = run.case
    labels = {
        field.name: field.choice_label(str(case.applicant[field.name]), case.language)
        for field in run.definition.applicant_fields
        if field.type == "choice" and field.name in case.applicant
    }
    return StepContext(
        text=case.request_text,
        language=case.language,
        reference=case.reference,
        submitted_on=f"{case.created_at:%Y-%m-%d}",
        applicant={k: _as_text(v) for k, v in case.applicant.items()},
        outputs=dict(outputs),
        labels=labels,
        request_language=case.request_language or case.language,
    )


def _as_text(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def step_request(spec: LlmStep, context: StepContext) -> StepRequest:
    """What a node is asked to run for an ``llm`` step; ``context`` carries the bank's nearest
    examples for a step with a bank (:func:`with_examples`)."""
    return StepRequest(
        agent=spec.agent,
        prompt=spec.prompt,
        prompt_version=spec.prompt_version,
        max_tokens=spec.max_tokens,
        context=context,
        params=dict(spec.params),
        label_field=spec.examples.field if spec.examples else None,
        model_weight=spec.examples.model_weight if spec.examples else 0.0,
        centroid_weight=spec.examples.centroid_weight if spec.examples else 0.0,
    )


def with_examples(
    session: Any, procedure: str, spec: LlmStep, context: StepContext
) -> tuple[StepContext, dict[str, Any]]:
    """The context with the bank's nearest examples, and what the step's input records of
    them (the examples' ids and the bank's version), so a decision can be replayed."""
    if spec.examples is None:
        return context, {}
    found, version = bank.nearest(
        session, procedure, spec.name, context.text, context.request_language, spec.examples.k
    )
    scores = bank.label_scores(session, procedure, spec.name, context.text)
    recorded = {"examples": [e["id"] for e in found], "bank_version": list(version)}
    return dataclasses.replace(context, examples=found, label_scores=scores), recorded


def run_llm_step(
    case_id: str, step_id: int, spec: LlmStep, context: StepContext, procedure: str
) -> dict[str, Any]:
    """Send one step to the node chosen for it, wait, store the result."""
    settings = get_settings()
    with session_scope() as session:
        step = session.get(CaseStep, step_id)
        assert step is not None
        context, recorded = with_examples(session, procedure, spec, context)
        payload = step_request(spec, context).to_payload()
        sent = time.perf_counter()

        def report(queue: str | None, detail: str) -> None:
            if queue is None:
                state.set_case(session, case_id, status_detail=detail)
            else:
                moved = state.case_detail(case_id, detail)
                state.set_step(session, step_id, queue=queue, also=moved)

        task_id, queue = _dispatched_before(step)
        if task_id is None or queue is None:
            placed = _dispatch(session, case_id, step, spec, context, payload, report, recorded)
        else:  # an engine that stopped sent it: wait for that task rather than run it twice
            placed = Placement(spec, task_id, payload, queue, report)
            state.set_case(session, case_id, status_detail=f"step {spec.name}: waiting on {queue}")

        def started() -> None:
            running = state.case_detail(case_id, f"step {spec.name}: running")
            lifecycle.write_step(session, step_id, StepStatus.running, also=running)

        try:
            reply = dispatch.wait_for_result(
                get_celery(),
                placed.task_id,
                settings.step_timeout_s,
                started,
                placed.resend,
                placed.queue,
                settings.redispatch_after_s,
                placed.move,
            )
        except dispatch.StepTimeout as exc:
            error = (
                f"step {spec.name}: {exc}; is a node serving model {spec.model!r} "
                f"on queue {placed.queue} running?"
            )
            raise lifecycle.fail_step(session, step_id, ErrorKind.timeout, error) from exc
        except dispatch.StepCrashed as exc:
            error = f"step {spec.name}: {exc}"
            raise lifecycle.fail_step(session, step_id, ErrorKind.node_error, error) from exc
        return _store_reply(session, step_id, spec, reply, time.perf_counter() - sent, context.text)


def _dispatched_before(step: CaseStep) -> tuple[str | None, str | None]:
    """The task and queue of a step already sent (by this engine before a restart)."""
    if step.status in IN_FLIGHT_STEP_STATUSES and step.task_id:
        return step.task_id, step.queue
    return None, None


def _dispatch(
    session: Any,
    case_id: str,
    step: CaseStep,
    spec: LlmStep,
    context: StepContext,
    payload: dict[str, Any],
    report: Callable[[str | None, str], None],
    recorded: dict[str, Any],
) -> Placement:
    """Choose a node, record the step as dispatched there (with the case's status line, in one
    transaction), then send it."""
    assert step.id is not None
    with placement.placing:
        node = placement.choose(session, spec)
        placed = Placement(spec, str(uuid.uuid4()), payload, node_queue(node.name), report)
        queued = f"step {spec.name}: queued on node {node.name} ({spec.model})"
        lifecycle.write_step(
            session,
            step.id,
            StepStatus.dispatched,
            task_id=placed.task_id,
            queue=placed.queue,
            model=spec.model,
            started_at=utcnow(),
            attempts=step.attempts + 1,
            input={
                "agent": spec.agent,
                "prompt": spec.prompt,
                "prompt_version": spec.prompt_version,
                "max_tokens": spec.max_tokens,
                "requires": spec.requires,
                "uses_outputs_of": sorted(context.outputs),
                **recorded,
            },
            also=state.case_detail(case_id, queued),
        )
    try:
        dispatch.send_step(get_celery(), placed.task_id, spec.model, placed.queue, payload)
    except dispatch.BrokerUnavailable:  # never sent: the next run sends it afresh
        lifecycle.write_step(session, step.id, StepStatus.pending, task_id=None)
        raise
    return placed


def checked_output(
    spec: LlmStep, output: dict[str, Any], text: str
) -> tuple[dict[str, Any], list[str]]:
    """The control plane's check of a node's output before it is stored: each value the
    prompt says needs evidence keeps only a span of the request that holds it
    (:func:`agents.evidence.verify`); what fails is dropped and noted."""
    kinds = prompt_of(spec.prompt, spec.prompt_version).evidence
    if not kinds:
        return output, []
    return evidence.verify(output, text, kinds)


def _store_reply(
    session: Any,
    step_id: int,
    spec: LlmStep,
    raw: Any,
    latency_s: float,
    text: str,
) -> dict[str, Any]:
    """Store what the node replied (``agents.contract``): the checked output of an ok reply,
    or the failure (:func:`lifecycle.fail_step`), raised as :class:`StepFailed` with its kind; a
    reply that does not parse fails the step as a ``node_error``. A step that already has its
    result keeps it (the lifecycle writes a result once)."""
    name = spec.name
    try:
        reply = parse_reply(raw)
    except MalformedReply as exc:
        node = raw.get("node") if isinstance(raw, dict) else None
        error = f"step {name}: node {node} sent a reply this engine cannot read: {exc}"
        raise lifecycle.fail_step(session, step_id, ErrorKind.node_error, error) from exc
    common: dict[str, Any] = {
        "node": reply.node,
        "model_sha256": reply.model_sha256,
        "finished_at": utcnow(),
    }
    if isinstance(reply, FailedReply):
        error = f"step {name} failed on node {reply.node}: {reply.error}"
        raise lifecycle.fail_step(session, step_id, reply.error_kind, error, **common)
    result = reply.result
    output, dropped = checked_output(spec, result.output, text)
    lifecycle.write_step(
        session,
        step_id,
        StepStatus.succeeded,
        finished=True,
        messages=result.messages,
        error=None,
        output=output,
        notes=[*result.notes, *dropped],
        prompt_ref=result.prompt_ref,
        prompt_sha256=result.prompt_sha256,
        output_sha256=output_sha256(output),  # of what is stored, after the check
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        model_ms=result.duration_ms,
        tokens_per_s=result.tokens_per_s,
        latency_ms=round(latency_s * 1000.0, 2),
        **common,
    )
    return output


@task(
    name="case",
    task_run_name="{reference}",
    cache_policy=NONE,
    retries=0,
    persist_result=False,
    log_prints=False,
)
def run_case(case_id: str, reference: str) -> str:
    """Run the case's pinned procedure version from its first unfinished step until it ends,
    fails or waits for an approval; return the case's status."""
    with session_scope() as session:
        state.set_case(
            session, case_id, prefect_task_run_id=str(task_run.id or ""), status_detail="running"
        )
        run = state.load_run(session, case_id)
    outputs = {
        name: step.effective_output
        for name, step in run.steps.items()
        if step.status == StepStatus.succeeded and step.effective_output is not None
    }
    try:
        for spec in run.definition.steps:
            step = run.steps[spec.name]
            if step.status in DONE_STEP_STATUSES:
                continue
            with session_scope() as session:
                status = state.case_status(session, case_id)
            if status != CaseStatus.running:
                return status  # cancelled while it ran
            result = _run_step(run, spec, step, outputs)
            if result == AWAITING:
                return CaseStatus.awaiting_approval
            if isinstance(result, dict):
                outputs[spec.name] = result
    except StepFailed as exc:
        with session_scope() as session:
            state.fail_case(session, case_id, str(exc))
        return CaseStatus.failed
    except (dispatch.BrokerUnavailable, nodes.NoNodeReady) as exc:
        with session_scope() as session:
            state.requeue_case(session, case_id, str(exc), count_attempt=False)
        return CaseStatus.queued
    with session_scope() as session:
        state.complete_case(session, case_id)
    return CaseStatus.completed


def _run_step(
    run: state.CaseRun, spec: Step, step: CaseStep, outputs: dict[str, Any]
) -> dict[str, Any] | str | None:
    """Run one step under its retry policy; ``None`` when its condition skips it."""
    assert step.id is not None
    reason = skip_reason(run.definition, spec, executors.namespace(run.case, outputs))
    if reason is not None:
        with session_scope() as session:
            state.skip_step(session, step.id, reason)
        return None
    attempt = 1
    while True:
        with session_scope() as session:
            state.record_step_started(session, run.case, step.id, attempt)
        try:
            return _execute(run, spec, step.id, outputs)
        except StepFailed as exc:
            if attempt >= spec.retry.attempts or exc.kind not in spec.retry.on_errors:
                raise
            attempt += 1
            delay = spec.retry.delay_before(attempt)
            with session_scope() as session:
                state.set_case(
                    session,
                    run.case.id,
                    status_detail=f"step {spec.name}: {exc.kind}; try {attempt} of "
                    f"{spec.retry.attempts} in {delay:.0f} s",
                )
            time.sleep(delay)


def skip_reason(definition: ProcedureDefinition, spec: Step, values: dict[str, Any]) -> str | None:
    """Why the step is skipped (its ``when`` does not hold), or ``None`` when it runs.

    A ``human_approval`` step is never skipped by a condition on what an agent produced: a
    model's answer (which a citizen's text can sway) must not decide whether a person
    approves. Such a condition is ignored and the approval is held; conditions on applicant
    fields, the case, or outputs no agent feeds still apply.
    """
    if spec.when is None or holds(spec.when, values):
        return None
    if isinstance(spec, HumanApprovalStep) and approval_reads_agents(definition, spec):
        return None
    return f"skipped: the condition {describe(spec.when)} does not hold"


def _execute(
    run: state.CaseRun, spec: Step, step_id: int, outputs: dict[str, Any]
) -> dict[str, Any] | str:
    case, definition = run.case, run.definition
    if isinstance(spec, LlmStep):
        return run_llm_step(
            case.id, step_id, spec, build_context(run, outputs), case.procedure_name
        )
    if isinstance(spec, RuleStep):
        return executors.run_rule(step_id, spec, case, outputs)
    if isinstance(spec, ToolStep):
        return executors.run_tool_step(step_id, spec, case, outputs)
    if isinstance(spec, HumanApprovalStep):
        executors.open_approval(step_id, spec, case.id, run.steps)
        return AWAITING
    assert isinstance(spec, DeliverStep)
    return executors.run_deliver(step_id, spec, case, definition, outputs)
