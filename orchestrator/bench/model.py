"""Model efficiency and latency (``idara bench model``).

The platform run: triage cases filed over HTTP to the real stack, first one at a time (their
latency from filing to the approval a clerk waits for, and the share of it spent outside the
model), then all at once (generated tokens per second, from the first filing to the last agent
step's end). The reference: the *same rendered prompts*, read back from the audit log's
payloads, through llama-cpp-python in this one plain process, with the node's model file,
threads, context and token cap. The ratio is platform ÷ raw.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from sqlmodel import Session, col, select

from agents.catalogue import Catalogue, load_trusted
from agents.prompts import load_prompt_ref
from agents.runtime import LlamaRuntime
from orchestrator import client
from orchestrator.audit.models import AuditEntry, AuditPayload
from orchestrator.bench import cpu
from orchestrator.bench.figures import CaseRecord, StepRecord, Throughput
from orchestrator.cases.lifecycle import SETTLED_CASE_STATUSES, WAITING_CASE_STATUSES
from orchestrator.cases.models import Case, CaseStep
from orchestrator.db import make_engine
from orchestrator.demo import DEMO_CLERK, demo_people, load_requests
from orchestrator.settings import Settings
from orchestrator.stack import DEFAULT_MODEL, start_stack

TRIAGE = "citizen-request-triage"
WARM_UP_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}
Progress = Callable[[str, int, int], None]
"""Called as ``progress(phase, done, total)``."""


class BenchError(Exception):
    """The benchmark could not measure: the reason says what went wrong."""


@dataclass(frozen=True)
class PlatformRun:
    one_at_a_time: list[CaseRecord]
    all_at_once: list[CaseRecord]
    cpu_s: dict[str, float]
    """CPU seconds each service used while the cases filed all at once ran (``bench``: this
    process, filing and watching them)."""


BENCH_ITSELF = "bench"


@dataclass(frozen=True)
class RawRun:
    throughput: Throughput
    same_tokens: int
    """Steps that generated exactly as many tokens as on the platform (greedy decoding)."""
    threads: int


def triage_requests(settings: Settings) -> list[dict[str, Any]]:
    bodies = [body for _, body in load_requests(settings.seeds_dir / "requests")]
    triage = [body for body in bodies if body.get("procedure") == TRIAGE]
    if not triage:
        raise BenchError(f"no {TRIAGE} request in {settings.seeds_dir / 'requests'}")
    return triage


def run_platform(
    settings: Settings,
    console: Console,
    one_at_a_time: int,
    all_at_once: int,
    progress: Progress,
    **shape: Any,
) -> PlatformRun:
    """File the cases to a stack started for the run, and read back what it recorded.
    ``shape``: fields of the stack a benchmark sets (``node_module``, the orchestration
    benchmark's instant node; ``nodes``, ``worker_concurrency``, ``node_threads``)."""
    bodies = triage_requests(settings)
    with contextlib.ExitStack() as cleanup:
        stack = start_stack(settings, [DEFAULT_MODEL], console, **shape)
        cleanup.callback(stack.stop)
        engine = make_engine(settings.effective_database_url)
        cleanup.callback(engine.dispose)
        file = _filer(settings, bodies)
        sequential = []
        for index in range(one_at_a_time):
            sequential.append(file(index))
            wait_settled(engine, sequential[-1:], stack.check_alive)
            progress("one at a time", index + 1, one_at_a_time)
        groups = {service.name: service.process.pid for service in stack.services}
        cpu_before, own_before = cpu.group_cpu_s(groups), time.process_time()
        together = [file(one_at_a_time + index) for index in range(all_at_once)]
        wait_settled(
            engine,
            together,
            stack.check_alive,
            lambda n: progress("all at once", n, all_at_once),
            every_s=1.0,  # the figures come from recorded times; watch without competing
        )
        used = cpu.used_between(cpu_before, cpu.group_cpu_s(groups))
        used[BENCH_ITSELF] = time.process_time() - own_before
        with Session(engine) as session:
            run = PlatformRun(records(session, sequential), records(session, together), used)
    return run


def _filer(settings: Settings, bodies: list[dict[str, Any]]) -> Callable[[int], str]:
    """Files the ``index``-th triage case as the demo's clerk, keyed by this run; returns
    its id."""
    token = demo_people(settings)[DEMO_CLERK].token
    run = uuid.uuid4().hex[:8]

    def file(index: int) -> str:
        body = bodies[index % len(bodies)]
        return str(client.submit(body, f"bench-{run}-{index}", token)["id"])

    return file


def wait_settled(
    engine: Any,
    case_ids: list[str],
    check_alive: Callable[[], None],
    progress: Callable[[int], None] | None = None,
    timeout_s: float = 1800,
    every_s: float = 0.2,
) -> None:
    """Until every case waits for its approval; read from the database, not the API, so the
    watching costs the platform nothing it would count."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check_alive()
        with Session(engine) as session:
            rows = session.exec(select(Case).where(col(Case.id).in_(case_ids))).all()
        ended = [case for case in rows if case.status in SETTLED_CASE_STATUSES]
        failed = [case for case in ended if case.status not in WAITING_CASE_STATUSES]
        if failed:
            case = failed[0]
            raise BenchError(f"case {case.reference} ended {case.status}: {case.error}")
        if progress:
            progress(len(ended))
        if len(ended) == len(case_ids):
            return
        time.sleep(every_s)
    raise BenchError(f"the cases did not reach their approval within {timeout_s:.0f} s")


def records(session: Session, case_ids: list[str]) -> list[CaseRecord]:
    """Each case's filing time, when its approval opened, and its agent steps with the
    prompts they were sent (the audit log's payloads)."""
    found = []
    for case_id in case_ids:
        case = session.get(Case, case_id)
        assert case is not None
        entries = session.exec(
            select(AuditEntry).where(AuditEntry.case_id == case_id).order_by(col(AuditEntry.seq))
        ).all()
        opened = [e for e in entries if e.kind == "approval.opened"]
        if not opened:
            raise BenchError(f"case {case.reference} has no approval.opened entry")
        prompts = {e.data["step"]: e.data.get("prompt_sha256") for e in entries if _finished(e)}
        steps = session.exec(
            select(CaseStep)
            .where(CaseStep.case_id == case_id, CaseStep.kind == "llm")
            .order_by(col(CaseStep.position))
        ).all()
        found.append(
            CaseRecord(
                case_id,
                _utc(case.created_at),
                datetime.fromisoformat(opened[0].ts),
                tuple(_step_record(session, step, prompts.get(step.name)) for step in steps),
            )
        )
    return found


def _finished(entry: AuditEntry) -> bool:
    return entry.kind == "step.finished" and entry.data.get("step_kind") == "llm"


def _step_record(session: Session, step: CaseStep, prompt_sha256: str | None) -> StepRecord:
    payload = session.get(AuditPayload, prompt_sha256) if prompt_sha256 else None
    if payload is None or step.finished_at is None or not step.prompt_ref:
        raise BenchError(f"step {step.name} of case {step.case_id} left no prompt to replay")
    prompt = load_prompt_ref(step.prompt_ref)
    wanted = (step.input or {}).get("max_tokens") or prompt.max_tokens
    return StepRecord(
        case_id=step.case_id,
        name=step.name,
        prompt_ref=step.prompt_ref,
        max_tokens=int(wanted),
        messages=payload.content,
        completion_tokens=step.completion_tokens or 0,
        model_ms=step.model_ms or 0.0,
        finished_at=_utc(step.finished_at),
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def run_raw(settings: Settings, steps: list[StepRecord], progress: Progress) -> RawRun:
    """The same prompts, one after another, through llama-cpp-python in this process: the
    node's model file (its sha256 checked), threads, context and token cap."""
    runtime = _replay_runtime(settings, prefix_cache=False)
    replay = _replay(runtime, steps, settings.max_step_tokens, "raw llama-cpp-python", progress)
    return RawRun(replay.throughput, replay.same_tokens, runtime.threads)


@dataclass(frozen=True)
class Replay:
    throughput: Throughput
    same_tokens: int
    outputs: list[dict[str, Any]]


@dataclass(frozen=True)
class PrefixRun:
    """The cases filed one at a time, replayed twice in this process: plain, then with each
    agent's prompt prefix kept (:mod:`agents.prefix_cache`, what a node does)."""

    plain_model_s: float
    kept_model_s: float
    steps: int
    same_outputs: int
    reused_tokens: int

    @property
    def speed_up(self) -> float:
        return self.plain_model_s / self.kept_model_s if self.kept_model_s > 0 else 0.0


def run_prefix_replay(settings: Settings, steps: list[StepRecord], progress: Progress) -> PrefixRun:
    """In the order a lone case runs them (classify, extract, draft, classify…), each prompt
    follows another agent's, so llama-cpp-python's own reuse of the last prompt saves little;
    kept prefixes are for that case."""
    cap = settings.max_step_tokens
    plain = _replay(_replay_runtime(settings, False), steps, cap, "prefixes: plain", progress)
    runtime = _replay_runtime(settings, True)
    kept = _replay(runtime, steps, cap, "prefixes: kept", progress)
    assert runtime.prefixes is not None
    same = sum(a == b for a, b in zip(plain.outputs, kept.outputs, strict=True))
    return PrefixRun(
        plain.throughput.model_s,
        kept.throughput.model_s,
        len(steps),
        same,
        runtime.prefixes.stats.reused_tokens,
    )


def _replay_runtime(settings: Settings, prefix_cache: bool) -> LlamaRuntime:
    entry = load_trusted(Catalogue.from_settings(settings)).entries[DEFAULT_MODEL]
    runtime = LlamaRuntime(
        entry,
        settings.effective_model_dir,
        settings.llm_threads,
        settings.llm_context,
        prefix_cache=prefix_cache,
    )
    # Warm, as the node was after its first step, on a prompt unlike any step's, so the timed
    # loop starts with nothing of its prompts in llama.cpp's cache; not counted.
    runtime.generate_json([{"role": "user", "content": "Bonjour."}], WARM_UP_SCHEMA, 16)
    return runtime


def _replay(
    runtime: LlamaRuntime, steps: list[StepRecord], cap: int, phase: str, progress: Progress
) -> Replay:
    """The steps in the order the node ran them: consecutive prompts that share a prefix
    (the same agent's system prompt) reuse llama.cpp's cache as they did on the node."""
    schemas = {ref: load_prompt_ref(ref).schema for ref in {s.prompt_ref for s in steps}}
    tokens = same = 0
    model_ms = 0.0
    outputs = []
    started = time.perf_counter()
    in_node_order = sorted(steps, key=lambda step: step.finished_at)
    for done, step in enumerate(in_node_order, 1):
        made = runtime.generate_json(
            step.messages, schemas[step.prompt_ref], min(step.max_tokens, cap)
        )
        tokens += made.completion_tokens
        model_ms += made.duration_ms
        same += made.completion_tokens == step.completion_tokens
        outputs.append(made.output)
        progress(phase, done, len(steps))
    wall = time.perf_counter() - started
    return Replay(Throughput(tokens, wall, model_ms / 1000.0), same, outputs)
