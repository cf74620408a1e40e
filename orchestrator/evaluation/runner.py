"""``idara eval``: a procedure's agent steps run on a labelled dataset, through the code a case
takes, and scored.

Each item becomes the step request the engine would send (:func:`flows.step_request`, with the
bank's nearest examples from :func:`flows.with_examples`), run by the node's own code
(:func:`agents.steps.run_step` on a :class:`~agents.runtime.LlamaRuntime` loaded from the
signed catalogue, with its prefix cache and the node's token cap), and the output is checked
as the engine checks it (:func:`flows.checked_output`). Only the transport (Celery, Redis) is
left out, so a ministry can evaluate a model before any node serves it.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from agents.catalogue import Catalogue, ensure_installed, load_trusted
from agents.errors import AgentError
from agents.language import reply_language
from agents.prompts import PROMPTS_DIR, load_prompt
from agents.retrieval import LexicalIndex, raw_char_features
from agents.runtime import LlamaRuntime
from agents.steps import StepContext, label_choices, run_step
from orchestrator.audit import chain, events
from orchestrator.db import make_engine
from orchestrator.engine import flows
from orchestrator.evaluation import metrics
from orchestrator.evaluation.dataset import Dataset, Item
from orchestrator.evaluation.report import Gate
from orchestrator.examples.service import enabled_examples
from orchestrator.procedures import service as procedures
from orchestrator.procedures.schemas import LlmStep, ProcedureDefinition
from orchestrator.seeding import prepare_database
from orchestrator.settings import Settings

Progress = Callable[[int, int], None]


class EvalError(Exception):
    """The evaluation cannot run: the message says what to fix."""


@dataclass
class StepUnderTest:
    spec: LlmStep
    kind: str  # classification or extraction
    fields: list[str]
    labels: list[str] = field(default_factory=list)
    baseline: LexicalIndex | None = None
    majority: str | None = None


def steps_under_test(
    definition: ProcedureDefinition, dataset: Dataset, names: list[str] | None
) -> list[StepUnderTest]:
    """The ``llm`` steps to score (``names``, else every step the items name), in the
    procedure's order, each a classification (its gold is one enum field) or an extraction."""
    wanted = set(names or {name for item in dataset.items for name in item.steps})
    specs = {spec.name: spec for spec in definition.steps}
    unknown = sorted(wanted - set(specs))
    if unknown:
        raise EvalError(
            f"{definition.name} v{definition.version} has no step {', '.join(unknown)}; "
            f"its steps: {', '.join(specs)}"
        )
    chosen = []
    for spec in definition.steps:
        if spec.name not in wanted:
            continue
        if not isinstance(spec, LlmStep):
            raise EvalError(f"step {spec.name} is a {spec.kind} step; idara eval scores llm steps")
        golds = [item.expected.get(spec.name) for item in dataset.items]
        if any(gold is None for gold in golds):
            raise EvalError(f"some items have no expected output for step {spec.name}")
        fields = sorted({key for gold in golds if gold for key in gold})
        schema = load_prompt(spec.prompt, spec.prompt_version).schema
        if len(fields) == 1 and label_choices(schema, fields[0]):
            chosen.append(
                StepUnderTest(spec, "classification", fields, label_choices(schema, fields[0]))
            )
        else:
            chosen.append(StepUnderTest(spec, "extraction", fields))
    return chosen


def _runtime(settings: Settings, name: str, loaded: dict[str, LlamaRuntime]) -> LlamaRuntime:
    """The model ``name`` as a node loads it: from the signed catalogue, its sha256 checked."""
    if name not in loaded:
        catalogue = Catalogue.from_settings(settings)
        ensure_installed(catalogue)
        entries = load_trusted(catalogue).entries
        if name not in entries:
            raise EvalError(
                f"model {name!r} is not in the catalogue; it has {', '.join(sorted(entries))} "
                "(add one with `idara models add`)"
            )
        loaded[name] = LlamaRuntime(
            entries[name], settings.effective_model_dir, settings.llm_threads, settings.llm_context
        )
    return loaded[name]


def context_for(item: Item, outputs: dict[str, dict[str, Any]]) -> StepContext:
    return StepContext(
        text=item.text,
        language=reply_language(item.language, item.reply_language),
        reference=f"EVAL-{item.id}",
        submitted_on=f"{datetime.now(UTC):%Y-%m-%d}",
        applicant={key: str(value) for key, value in item.applicant.items()},
        outputs=dict(outputs),
        request_language=item.language,
    )


def evaluate(
    settings: Settings,
    dataset: Dataset,
    procedure: str,
    step_names: list[str] | None = None,
    model: str | None = None,
    progress: Progress | None = None,
    gate: Gate | None = None,
) -> dict[str, Any]:
    """Run and score; return the report (see :mod:`orchestrator.evaluation.report`), with the
    gate's verdict when one is given. The run is an ``eval.run`` audit entry."""
    if not dataset.items:
        raise EvalError("the dataset has no item for this procedure and split")
    prepare_database(settings)
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine) as session:
            row = procedures.latest(session, procedure)
            if row is None:
                names = ", ".join(sorted(r.name for r in procedures.list_latest(session)))
                raise EvalError(f"no procedure {procedure!r}; published: {names}")
            definition = procedures.definition_of(row)
            tested = steps_under_test(definition, dataset, step_names)
            for step in tested:
                _prepare_baselines(session, procedure, step, dataset)
            report = _run(settings, session, dataset, definition, tested, model, progress)
            if gate is not None:
                report["gate"] = {"thresholds": gate.as_dict(), "failures": gate.failures(report)}
            _record(session, report)
            session.commit()
    finally:
        engine.dispose()
    return report


def _prepare_baselines(
    session: Session, procedure: str, step: StepUnderTest, dataset: Dataset
) -> None:
    if step.kind != "classification":
        return
    golds = Counter(item.expected[step.spec.name][step.fields[0]] for item in dataset.items)
    step.majority = golds.most_common(1)[0][0]
    examples = enabled_examples(session, procedure, step.spec.name)
    if examples:
        step.baseline = LexicalIndex(examples, raw_char_features)


def _run(
    settings: Settings,
    session: Session,
    dataset: Dataset,
    definition: ProcedureDefinition,
    tested: list[StepUnderTest],
    model: str | None,
    progress: Progress | None,
) -> dict[str, Any]:
    loaded: dict[str, LlamaRuntime] = {}
    records: list[dict[str, Any]] = []
    started = time.perf_counter()
    total = len(dataset.items)
    for done, item in enumerate(dataset.items, start=1):
        outputs: dict[str, dict[str, Any]] = {}
        record: dict[str, Any] = {"id": item.id, "language": item.language, "steps": {}}
        for step in tested:
            runtime = _runtime(settings, model or step.spec.model, loaded)
            record["steps"][step.spec.name] = result = _one(
                session, definition, step, item, outputs, runtime, settings
            )
            if result.get("output") is not None:
                outputs[step.spec.name] = result["output"]
        records.append(record)
        if progress:
            progress(done, total)
    runtime_of = {step.spec.name: loaded[model or step.spec.model] for step in tested}
    return {
        "run": {
            "procedure": definition.name,
            "procedure_version": definition.version,
            "model": sorted({rt.entry.name for rt in runtime_of.values()}),
            "model_sha256": sorted({rt.sha256 for rt in runtime_of.values()}),
            "dataset_sha256": dataset.sha256,
            "dataset_files": dataset.files,
            "items": total,
            "languages": dict(sorted(Counter(item.language for item in dataset.items).items())),
            "seconds": round(time.perf_counter() - started, 1),
            "threads": next(iter(loaded.values())).threads if loaded else 0,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "steps": {step.spec.name: _score(step, dataset, records) for step in tested},
        "records": records,
    }


def _one(
    session: Session,
    definition: ProcedureDefinition,
    step: StepUnderTest,
    item: Item,
    outputs: dict[str, dict[str, Any]],
    runtime: LlamaRuntime,
    settings: Settings,
) -> dict[str, Any]:
    spec = step.spec
    context, recorded = flows.with_examples(
        session, definition.name, spec, context_for(item, outputs)
    )
    request = flows.step_request(spec, context)
    began = time.perf_counter()
    try:
        result = run_step(runtime, request, settings.max_step_tokens)
    except AgentError as exc:
        return {"output": None, "error": str(exc), "seconds": time.perf_counter() - began}
    output, dropped = flows.checked_output(spec, result.output, item.text)
    return {
        "output": output,
        "notes": [*result.notes, *dropped],
        "seconds": round(time.perf_counter() - began, 3),
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "prompt_ref": result.prompt_ref,
        "examples": recorded.get("examples", []),
    }


def _score(step: StepUnderTest, dataset: Dataset, records: list[dict[str, Any]]) -> dict[str, Any]:
    name = step.spec.name
    results = [record["steps"][name] for record in records]
    prompt_file = PROMPTS_DIR / f"{step.spec.prompt}.v{step.spec.prompt_version}.yaml"
    scored: dict[str, Any] = {
        "kind": step.kind,
        "prompt": f"{step.spec.prompt}@v{step.spec.prompt_version}",
        "prompt_file_sha256": hashlib.sha256(prompt_file.read_bytes()).hexdigest(),
        "errors": sum(1 for result in results if result.get("error")),
        "cost": metrics.cost(
            [r["seconds"] for r in results if "prompt_tokens" in r],
            [r["prompt_tokens"] for r in results if "prompt_tokens" in r],
            [r["completion_tokens"] for r in results if "prompt_tokens" in r],
        ),
    }
    if step.kind == "classification":
        field_name = step.fields[0]
        items = [
            metrics.Scored(
                item.language, item.expected[name][field_name], _answers(step, item, result)
            )
            for item, result in zip(dataset.items, results, strict=True)
        ]
        figures = metrics.classification(items, step.labels)
        systems = figures["systems"]
        lexical = systems.get("lexical_1nn", {})
        below = [
            language
            for language, row in systems["step"]["languages"].items()
            if lexical and row["accuracy"] < lexical["languages"][language]["accuracy"]
        ]
        scored.update(field=field_name, **figures)
        scored["below_lexical_baseline"] = below
        scored["beats_lexical_baseline"] = bool(lexical) and (
            systems["step"]["accuracy"] > lexical["accuracy"]
        )
        return scored
    extracted = [
        metrics.Extracted(item.language, item.expected[name], (result.get("output") or {}))
        for item, result in zip(dataset.items, results, strict=True)
    ]
    scored.update(metrics.extraction(extracted, step.fields))
    return scored


def _answers(step: StepUnderTest, item: Item, result: dict[str, Any]) -> dict[str, str | None]:
    """What the step answered, its vote and its model's parts, and the two baselines."""
    field_name = step.fields[0]
    output = result.get("output") or {}
    answers: dict[str, str | None] = {"step": output.get(field_name), "majority": step.majority}
    decision = (output.get("evidence") or {}).get(field_name)
    if decision:
        shares = decision.get("vote") or {}
        answers["vote"] = max(shares, key=lambda label: shares[label]) if shares else None
        labels = decision.get("labels") or {}
        if labels:
            answers["labels"] = max(labels, key=lambda label: labels[label])
        answers["model"] = decision.get("model")
    if step.baseline is not None:
        nearest = step.baseline.search(item.text, 1)
        answers["lexical_1nn"] = nearest[0].example.label if nearest else None
    return answers


_RUN_KEYS = (
    "procedure",
    "procedure_version",
    "model",
    "model_sha256",
    "dataset_sha256",
    "items",
    "languages",
)


def _record(session: Session, report: dict[str, Any]) -> None:
    """The ``eval.run`` audit entry: the run's identity and its headline figures."""
    summary: dict[str, Any] = {}
    for name, step in report["steps"].items():
        if step["kind"] == "classification":
            summary[name] = {
                "accuracy": step["systems"]["step"]["accuracy"],
                "macro_f1": step["systems"]["step"]["macro_f1"],
                "language_gap": step["language_gap"],
                "lexical_1nn": step["systems"].get("lexical_1nn", {}).get("accuracy"),
            }
        else:
            summary[name] = {
                "precision": step["overall"]["precision"],
                "recall": step["overall"]["recall"],
                "invented": step["invented"],
            }
        summary[name]["prompt_file_sha256"] = step["prompt_file_sha256"]
    chain.record(
        session,
        "eval.run",
        events.cli_actor(),
        {key: report["run"][key] for key in _RUN_KEYS}
        | {"figures": summary, "gate": report.get("gate")},
        model=",".join(report["run"]["model"]),
    )
