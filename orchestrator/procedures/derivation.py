"""Which steps an agent's answer can influence.

A model's answer can be swayed by the citizen's text it reads, so whatever depends on it is
treated as untrusted: publication refuses an approval condition that reads it, and the engine
holds such an approval anyway (for versions published before the check existed).
"""

from __future__ import annotations

from orchestrator.procedures.conditions import paths_of
from orchestrator.procedures.schemas import (
    DeliverStep,
    HumanApprovalStep,
    LlmStep,
    ProcedureDefinition,
    RuleStep,
    Step,
    ToolStep,
)


def agent_derived_steps(definition: ProcedureDefinition) -> set[str]:
    """The steps whose output, or whether they ran, an agent's answer can change: every llm
    and deliver step, and every rule or tool step that reads (or whose ``when`` reads) one of
    those. An approval's output is a person's decision, never agent-derived."""
    derived: set[str] = set()
    for step in definition.steps:
        if isinstance(step, HumanApprovalStep):
            continue
        if isinstance(step, LlmStep | DeliverStep) or any(
            output_step(path) in derived for path in _reads(step)
        ):
            derived.add(step.name)
    return derived


def approval_reads_agents(definition: ProcedureDefinition, spec: HumanApprovalStep) -> list[str]:
    """The paths of an approval's ``when`` that read an agent-derived output."""
    if spec.when is None:
        return []
    derived = agent_derived_steps(definition)
    return [p for p in paths_of(spec.when) if output_step(p) in derived]


def output_step(path: str) -> str | None:
    """The step an ``outputs.<step>…`` path reads, or ``None`` for any other path."""
    head, _, rest = path.partition(".")
    return rest.split(".")[0] if head == "outputs" else None


def _reads(step: Step) -> list[str]:
    reads = paths_of(step.when) if step.when is not None else []
    if isinstance(step, RuleStep):
        reads += [check.path for check in step.checks]
    elif isinstance(step, ToolStep):
        reads += list(step.args_from.values())
    return reads
