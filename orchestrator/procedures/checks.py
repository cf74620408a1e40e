"""Checks a procedure needs beyond its shape: every path names an earlier step or a declared
applicant field, every agent, prompt, tool and template exists, tool arguments fit the tool.

Each problem carries its location (a pydantic-style ``loc``) so the file's line can be named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from agents.errors import PromptError
from agents.prompts import load_prompt
from agents.steps import AGENTS, label_choices, letter_template_path
from agents.tools import TOOLS
from orchestrator.procedures.conditions import paths_of
from orchestrator.procedures.derivation import approval_reads_agents
from orchestrator.procedures.schemas import (
    LANGUAGES,
    DeliverStep,
    HumanApprovalStep,
    LlmStep,
    ProcedureDefinition,
    RuleStep,
    ToolStep,
)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "documents" / "templates"
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str


def problems(definition: ProcedureDefinition) -> list[Problem]:
    found: list[Problem] = []
    fields = {f.name for f in definition.applicant_fields}
    earlier: dict[str, Any] = {}
    for index, step in enumerate(definition.steps):
        loc: Loc = ("steps", index)
        if step.when is not None:
            found += _paths(paths_of(step.when), (*loc, "when"), fields, earlier)
        if isinstance(step, LlmStep):
            found += _llm(step, loc)
        elif isinstance(step, RuleStep):
            for n, check in enumerate(step.checks):
                found += _paths([check.path], (*loc, "checks", n, "path"), fields, earlier)
        elif isinstance(step, ToolStep):
            found += _tool(step, loc, fields, earlier)
        elif isinstance(step, HumanApprovalStep):
            found += _names(step.show, (*loc, "show"), earlier)
            found += _names(step.editable, (*loc, "editable"), earlier, drafts_only=True)
            found += _approval_condition(definition, step, loc)
        elif isinstance(step, DeliverStep):
            found += _names(step.document, (*loc, "document"), earlier, drafts_only=True)
            if not (TEMPLATES_DIR / f"{step.template}.html").is_file():
                found.append(Problem((*loc, "template"), f"no document template {step.template!r}"))
        earlier[step.name] = step
    return found


def _paths(paths: list[str], loc: Loc, fields: set[str], earlier: dict[str, Any]) -> list[Problem]:
    found = []
    for path in paths:
        head, _, rest = path.partition(".")
        name = rest.split(".")[0]
        if head == "applicant" and name not in fields:
            known = ", ".join(sorted(fields)) or "none"
            found.append(Problem(loc, f"{path}: no applicant field {name!r} (declared: {known})"))
        elif head == "outputs" and name not in earlier:
            found.append(
                Problem(
                    loc,
                    f"{path}: {name!r} is not an earlier step (a step can only read "
                    f"the outputs of the steps before it)",
                )
            )
    return found


def _approval_condition(
    definition: ProcedureDefinition, step: HumanApprovalStep, loc: Loc
) -> list[Problem]:
    """Refuse an approval whose ``when`` reads what an agent produced: a model's answer, which
    a citizen's text can sway, must never decide whether a person approves."""
    tainted = approval_reads_agents(definition, step)
    if not tainted:
        return []
    return [
        Problem(
            (*loc, "when"),
            f"{', '.join(tainted)}: an approval's condition cannot read what an agent produced "
            "(a citizen's text can sway a model's answer, so it must not decide whether a "
            "person approves); condition it on applicant fields or on steps no agent feeds, "
            "or remove the condition",
        )
    ]


def _names(
    names: list[str], loc: Loc, earlier: dict[str, Any], drafts_only: bool = False
) -> list[Problem]:
    found = []
    for name in names:
        if name not in earlier:
            found.append(Problem(loc, f"{name!r} is not an earlier step"))
        elif drafts_only and not isinstance(earlier[name], LlmStep):
            found.append(Problem(loc, f"{name!r} is not a draft (an llm step)"))
    return found


def _llm(step: LlmStep, loc: Loc) -> list[Problem]:
    found = []
    if step.agent not in AGENTS:
        known = ", ".join(sorted(AGENTS))
        found.append(Problem((*loc, "agent"), f"unknown agent {step.agent!r}; known: {known}"))
    try:
        prompt = load_prompt(step.prompt, step.prompt_version)
    except PromptError as exc:
        found.append(Problem((*loc, "prompt"), str(exc)))
    else:
        if step.examples is not None and not label_choices(prompt.schema, step.examples.field):
            found.append(
                Problem(
                    (*loc, "examples", "field"),
                    f"the examples label {step.examples.field!r}, which the prompt "
                    f"{prompt.ref}'s schema does not declare as a string enum",
                )
            )
    if step.agent == "draft_letter":
        template = step.params.get("template", "")
        missing = [lang for lang in LANGUAGES if not letter_template_path(template, lang).is_file()]
        if not template or missing:
            found.append(
                Problem(
                    (*loc, "params", "template"),
                    f"draft_letter needs a letter template {template!r} in agents/letters/ "
                    f"for every language (missing: {', '.join(missing)})",
                )
            )
    return found


def _tool(step: ToolStep, loc: Loc, fields: set[str], earlier: dict[str, Any]) -> list[Problem]:
    tool = TOOLS.get(step.tool)
    if tool is None:
        known = ", ".join(sorted(TOOLS))
        return [Problem((*loc, "tool"), f"{step.tool!r} is not an allowed tool; allowed: {known}")]
    schema = tool.args_schema
    properties: dict[str, Any] = schema.get("properties", {})
    found = _paths(list(step.args_from.values()), (*loc, "args_from"), fields, earlier)
    given = set(step.args) | set(step.args_from)
    for name in sorted(given - set(properties)):
        found.append(Problem((*loc, "args"), f"{step.tool} takes no argument {name!r}"))
    for name in sorted(set(schema.get("required", [])) - given):
        found.append(Problem((*loc, "args"), f"{step.tool} needs the argument {name!r}"))
    for name, value in step.args.items():
        if name in properties:
            for error in jsonschema.Draft202012Validator(properties[name]).iter_errors(value):
                found.append(Problem((*loc, "args", name), error.message))
    return found
