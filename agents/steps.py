"""The agent steps a procedure can name, each: render a prompt, call the model, check the answer.

A worker calls :func:`run_step` with a :class:`StepRequest`; it returns a :class:`StepResult`
that carries everything the engine stores and the audit log will need (hashes, tokens, timings).
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from agents.errors import AgentError
from agents.language import SUPPORTED_LANGUAGES
from agents.prompts import Prompt, delimit_citizen_text, load_prompt, messages_sha256
from agents.runtime import Generation

LETTERS_DIR = Path(__file__).resolve().parent / "letters"
CIN_PATTERN = re.compile(r"\b[A-Z]{1,2}[0-9]{4,7}\b")


class Runtime(Protocol):
    def generate_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int
    ) -> Generation: ...


@dataclass(frozen=True)
class StepContext:
    """What the engine knows about the case when it dispatches a step."""

    text: str
    language: str
    reference: str
    submitted_on: str
    applicant: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRequest:
    agent: str
    prompt: str
    prompt_version: int
    context: StepContext
    max_tokens: int | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> StepRequest:
        return cls(
            agent=payload["agent"],
            prompt=payload["prompt"],
            prompt_version=int(payload["prompt_version"]),
            max_tokens=payload.get("max_tokens"),
            context=StepContext(**payload["context"]),
        )

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StepResult:
    output: dict[str, Any]
    prompt_ref: str
    prompt_sha256: str
    output_sha256: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float
    tokens_per_s: float
    notes: list[str]

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


AgentFn = Callable[[Generation, StepContext], tuple[dict[str, Any], list[str]]]


def _classify(generation: Generation, context: StepContext) -> tuple[dict[str, Any], list[str]]:
    return dict(generation.output), []


def _extract(generation: Generation, context: StepContext) -> tuple[dict[str, Any], list[str]]:
    """Keep the model's fields, but never a CIN that is malformed or absent from the request."""
    output = dict(generation.output)
    notes: list[str] = []
    sources = context.text + " " + " ".join(context.applicant.values())
    cin = (output.get("cin") or "").strip().upper().replace(" ", "")
    if cin and CIN_PATTERN.fullmatch(cin) and cin in sources.upper().replace(" ", ""):
        output["cin"] = cin
        return output, notes
    found = CIN_PATTERN.search(sources)
    if cin:
        notes.append(f"model CIN {cin!r} rejected (malformed or not in the request)")
    if found:
        notes.append("CIN taken from the request text by pattern")
    output["cin"] = found.group(0) if found else None
    return output, notes


def _draft_acknowledgement(
    generation: Generation, context: StepContext
) -> tuple[dict[str, Any], list[str]]:
    """Fill the language's letter template; the model wrote only the subject line."""
    labels = _labels()
    lang = context.language
    classification = context.outputs.get("classify")
    if not classification:
        raise AgentError("draft_acknowledgement needs the output of a 'classify' step")
    extraction = context.outputs.get("extract", {})
    name = context.applicant.get("full_name") or _plausible_name(
        extraction.get("applicant_name"), context.text
    )
    salutation = (
        string.Template(labels["salutation"][lang]).substitute(name=name)
        if name
        else labels["salutation_no_name"][lang]
    )
    values = {
        "reference": context.reference,
        "date": context.submitted_on,
        "subject": generation.output["subject"].strip(),
        "salutation": salutation,
        "requested_item": extraction.get("requested_item") or labels["unspecified_item"][lang],
        "department": labels["department"][classification["department"]][lang],
        "urgency": labels["urgency"][classification["urgency"]][lang],
    }
    letter = _letter_template(lang).substitute(values)
    return {"subject": values["subject"], "letter": letter, "language": lang}, []


def _plausible_name(candidate: str | None, text: str) -> str | None:
    """An extracted name is used in a letter only if it is short and copied from the request."""
    if not candidate or len(candidate.split()) > 5 or candidate not in text:
        return None
    return candidate


AGENTS: dict[str, AgentFn] = {
    "classify": _classify,
    "extract": _extract,
    "draft_acknowledgement": _draft_acknowledgement,
}


@lru_cache(maxsize=1)
def _labels() -> dict[str, Any]:
    return json.loads((LETTERS_DIR / "labels.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@lru_cache(maxsize=8)
def _letter_template(language: str) -> string.Template:
    path = LETTERS_DIR / f"acknowledgement.{language}.txt"
    return string.Template(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=32)
def _prompt(name: str, version: int) -> Prompt:
    return load_prompt(name, version)


def prompt_values(context: StepContext) -> dict[str, str]:
    return {
        "language": context.language,
        "language_name": _labels()["language_name"][context.language],
        "request": delimit_citizen_text(context.text),
    }


def run_step(runtime: Runtime, request: StepRequest) -> StepResult:
    """Run one agent step on a loaded model and return its checked result."""
    agent = AGENTS.get(request.agent)
    if agent is None:
        raise AgentError(f"unknown agent {request.agent!r}; known: {', '.join(sorted(AGENTS))}")
    if request.context.language not in SUPPORTED_LANGUAGES:
        raise AgentError(f"language {request.context.language!r} is not supported")
    prompt = _prompt(request.prompt, request.prompt_version)
    messages = prompt.render(prompt_values(request.context))
    generation = runtime.generate_json(
        messages, prompt.schema, request.max_tokens or prompt.max_tokens
    )
    output, notes = agent(generation, request.context)
    canonical = json.dumps(output, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return StepResult(
        output=output,
        prompt_ref=prompt.ref,
        prompt_sha256=messages_sha256(messages),
        output_sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        duration_ms=round(generation.duration_ms, 2),
        tokens_per_s=round(generation.tokens_per_s, 2),
        notes=notes,
    )
