"""The agent steps a procedure can name, each: render a prompt, call the model, check the answer.

A worker calls :func:`run_step` with a :class:`StepRequest`; it returns an
``agents.contract.StepResult`` that carries everything the engine stores and the audit log will
need (hashes, tokens, timings).
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

import jsonschema

from agents.classify import decide_label, render_examples
from agents.contract import StepResult
from agents.errors import AgentError, InvalidOutputError
from agents.evidence import EVIDENCE
from agents.extraction import with_evidence
from agents.language import REPLY_LANGUAGES
from agents.prompts import (
    Prompt,
    clean_citizen_text,
    delimit_citizen_text,
    load_prompt,
    messages_sha256,
)
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
    labels: dict[str, str] = field(default_factory=dict)  # choice fields' labels, case language
    request_language: str = ""
    """The language the request is written in (``ary``, ``ary-Latn``…); ``language`` is the
    reply's."""
    examples: list[dict[str, Any]] = field(default_factory=list)
    """The example bank's nearest examples, best first: ``text``, ``label``, ``language``,
    ``score`` (cosine similarity), ``id``; sent by the engine for a step with a bank."""
    label_scores: dict[str, float] = field(default_factory=dict)
    """Each label's similarity to all of its bank's examples (the best label 1.0), computed by
    the engine beside the nearest examples (``LexicalIndex.label_scores``)."""


@dataclass(frozen=True)
class StepRequest:
    agent: str
    prompt: str
    prompt_version: int
    context: StepContext
    max_tokens: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    label_field: str | None = None
    """The output field the context's examples label (a step with an example bank)."""
    model_weight: float = 0.0
    """Weight of the model's answer beside the examples' vote (:func:`decide_label`)."""
    centroid_weight: float = 0.0
    """Weight of the context's ``label_scores`` beside the neighbours' vote."""

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> StepRequest:
        return cls(
            agent=payload["agent"],
            prompt=payload["prompt"],
            prompt_version=int(payload["prompt_version"]),
            max_tokens=payload.get("max_tokens"),
            context=StepContext(**payload["context"]),
            params=dict(payload.get("params") or {}),
            label_field=payload.get("label_field"),
            model_weight=float(payload.get("model_weight") or 0.0),
            centroid_weight=float(payload.get("centroid_weight") or 0.0),
        )

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


AgentFn = Callable[[Generation, StepRequest], tuple[dict[str, Any], list[str]]]


def _as_is(generation: Generation, request: StepRequest) -> tuple[dict[str, Any], list[str]]:
    """The model's answer, already checked against the prompt's schema."""
    return dict(generation.output), []


def _classify(generation: Generation, request: StepRequest) -> tuple[dict[str, Any], list[str]]:
    """The model's answer, or, for a step with an example bank, the label
    :func:`agents.classify.decide_label` gives, with its evidence."""
    output = dict(generation.output)
    field_name = request.label_field
    if not field_name or not request.context.examples:
        return output, []
    model_label = output.get(field_name)
    label, evidence = decide_label(
        model_label if isinstance(model_label, str) else None,
        request.context.examples,
        request.model_weight,
        request.context.label_scores,
        request.centroid_weight,
    )
    notes = []
    if label is not None and label != model_label:
        notes.append(f"{field_name}: the examples' vote gave {label!r}, the model {model_label!r}")
        output[field_name] = label
    output["evidence"] = {field_name: evidence}
    return output, notes


def _extract_fields(
    generation: Generation, request: StepRequest
) -> tuple[dict[str, Any], list[str]]:
    """The model's fields; for a prompt that declares ``evidence``, only those found in the
    request, each with its span (:mod:`agents.extraction`)."""
    kinds = prompt_of(request.prompt, request.prompt_version).evidence
    if not kinds:
        return dict(generation.output), []
    fallback = request.params.get("model_fallback", "false").lower() == "true"
    applicant = request.context.applicant
    return with_evidence(
        dict(generation.output),
        request.context.text,
        kinds,
        fallback,
        applicant.get("relationship"),
        applicant.get("full_name"),
    )


def label_choices(schema: dict[str, Any], field_name: str) -> list[str]:
    """The values a prompt's schema allows for ``field_name`` (a string enum), else none."""
    spec = schema.get("properties", {}).get(field_name, {})
    choices = spec.get("enum") if isinstance(spec, dict) else None
    return [str(choice) for choice in choices] if isinstance(choices, list) else []


def _extract(generation: Generation, request: StepRequest) -> tuple[dict[str, Any], list[str]]:
    """Keep the model's fields, but never a CIN that is malformed or absent from the request."""
    context = request.context
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
    generation: Generation, request: StepRequest
) -> tuple[dict[str, Any], list[str]]:
    """Fill the language's letter template; the model wrote only the subject line."""
    context = request.context
    labels = _labels()
    lang = context.language
    classification = context.outputs.get("classify")
    if not classification:
        raise AgentError("draft_acknowledgement needs the output of a 'classify' step")
    extraction = context.outputs.get("extract", {})
    name = context.applicant.get("full_name") or _plausible_name(
        extraction.get("applicant_name"), context.text
    )
    values = {
        "reference": context.reference,
        "date": context.submitted_on,
        "subject": clean_subject(generation.output["subject"]),
        "salutation": _salutation(name, lang),
        "requested_item": extraction.get("requested_item") or labels["unspecified_item"][lang],
        "department": labels["department"][classification["department"]][lang],
        "urgency": labels["urgency"][classification["urgency"]][lang],
    }
    letter = _letter_template("acknowledgement", lang).substitute(values)
    return {"subject": values["subject"], "letter": letter, "language": lang}, []


def _draft_letter(generation: Generation, request: StepRequest) -> tuple[dict[str, Any], list[str]]:
    """Fill the template named by the step's ``template`` parameter with the case's facts; the
    model wrote only the subject line. A fact that is not there reads as a dash."""
    context = request.context
    template = request.params.get("template")
    if not template:
        raise AgentError("draft_letter needs a 'template' parameter")
    values = LetterValues(letter_values(context))
    values["subject"] = clean_subject(generation.output["subject"])
    letter = _letter_template(template, context.language).substitute(values)
    return {"subject": values["subject"], "letter": letter, "language": context.language}, []


_SUBJECT_NOISE = re.compile(
    r"</?\s*citizen_request\s*>|[<>{}\[\]]|citizen_request|^\s*(objet|subject|الموضوع)\s*:\s*",
    re.IGNORECASE,
)


def clean_subject(text: str) -> str:
    """The model's subject line without echoed delimiters, brackets or a repeated label."""
    cleaned = text
    for _ in range(2):  # a label can hide behind stray punctuation the first pass removes
        cleaned = " ".join(_SUBJECT_NOISE.sub(" ", cleaned).split()).strip(" .,:;")
    return cleaned or "—"


class LetterValues(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "—"


def letter_values(context: StepContext) -> dict[str, str]:
    """``$reference``, ``$date``, ``$salutation``, ``$applicant__<field>`` (and
    ``$applicant__<field>_label`` for choices), ``$<step>__<field>`` for earlier outputs."""
    values = {
        "reference": context.reference,
        "date": context.submitted_on,
        "salutation": _salutation(context.applicant.get("full_name"), context.language),
    }
    for name, value in context.applicant.items():
        values[f"applicant__{name}"] = value
    for name, label in context.labels.items():
        values[f"applicant__{name}_label"] = label
    for step, output in context.outputs.items():
        values.update(_flatten(step, output))
    return values


def _flatten(prefix: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(_flatten(f"{prefix}__{key}", item))
        return flat
    if isinstance(value, list):
        flat = {}
        if all(not isinstance(item, dict | list) for item in value):
            flat[prefix] = "\n".join(f"- {item}" for item in value) if value else "—"
        for index, item in enumerate(value):
            flat.update(_flatten(f"{prefix}__{index}", item))
        return flat
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {prefix: "yes" if value else "no"}
    return {prefix: str(value)}


def _salutation(name: str | None, language: str) -> str:
    labels = _labels()
    if name:
        return string.Template(labels["salutation"][language]).substitute(name=name)
    return str(labels["salutation_no_name"][language])


def _plausible_name(candidate: str | None, text: str) -> str | None:
    """An extracted name is used in a letter only if it is short and copied from the request."""
    if not candidate or len(candidate.split()) > 5 or candidate not in text:
        return None
    return candidate


AGENTS: dict[str, AgentFn] = {
    "classify": _classify,
    "summarise": _as_is,
    "extract_fields": _extract_fields,
    "extract": _extract,
    "draft_acknowledgement": _draft_acknowledgement,
    "draft_letter": _draft_letter,
}


@lru_cache(maxsize=1)
def _labels() -> dict[str, Any]:
    return json.loads((LETTERS_DIR / "labels.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def letter_template_path(name: str, language: str) -> Path:
    return LETTERS_DIR / f"{name}.{language}.txt"


@lru_cache(maxsize=64)
def _letter_template(name: str, language: str) -> string.Template:
    path = letter_template_path(name, language)
    if not path.is_file():
        raise AgentError(f"no letter template {name!r} in {language} ({path})")
    return string.Template(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=32)
def prompt_of(name: str, version: int) -> Prompt:
    """A prompt file, read once per process (steps render it for every case)."""
    return load_prompt(name, version)


def prompt_values(context: StepContext) -> dict[str, str]:
    return {
        "language": context.language,
        "language_name": _labels()["language_name"][context.language],
        "request": delimit_citizen_text(context.text),
        "examples": render_examples(context.examples, clean_citizen_text),
    }


def render_messages(request: StepRequest) -> tuple[Prompt, list[dict[str, str]]]:
    """The step's prompt and the messages the model is sent: the prompt file's fixed system
    text, then the user template with the citizen's text inside its delimiters. Applicant
    fields and earlier outputs are never sent; the agent's code uses them after the model."""
    if request.agent not in AGENTS:
        raise AgentError(f"unknown agent {request.agent!r}; known: {', '.join(sorted(AGENTS))}")
    if request.context.language not in REPLY_LANGUAGES:
        raise AgentError(f"language {request.context.language!r} is not supported")
    prompt = prompt_of(request.prompt, request.prompt_version)
    return prompt, prompt.render(prompt_values(request.context))


# Agents whose output is the model's answer, post-processed: it must still fit the schema.
# Only the drafting agents return another shape (a letter built from a template).
_SCHEMA_OUTPUT_AGENTS = frozenset(
    name for name, fn in AGENTS.items() if fn not in (_draft_acknowledgement, _draft_letter)
)


def check_output(output: dict[str, Any], schema: dict[str, Any], what: str) -> None:
    """Refuse an output that does not fit ``schema``.

    ``run_step`` checks the model's answer itself rather than trusting the runtime to have
    done it (a runtime is any object with ``generate_json``), and checks again what an agent's
    code made of it: only schema-valid values (enums, patterns, lengths) reach the rules and
    ``when`` conditions that route a case.
    """
    try:
        jsonschema.validate(output, schema)
    except jsonschema.ValidationError as exc:
        raise InvalidOutputError(f"{what} does not match the schema: {exc.message}") from exc


def output_sha256(output: dict[str, Any]) -> str:
    """The sha256 of an output's canonical JSON, as the audit log records it."""
    canonical = json.dumps(output, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def run_step(runtime: Runtime, request: StepRequest, token_cap: int | None = None) -> StepResult:
    """Run one agent step on a loaded model and return its checked result. The node's
    ``token_cap`` bounds what one step may generate, whatever its procedure asks."""
    prompt, messages = render_messages(request)  # refuses an unknown agent or language
    agent = AGENTS[request.agent]
    max_tokens = request.max_tokens or prompt.max_tokens
    generation = runtime.generate_json(
        messages, prompt.schema, min(max_tokens, token_cap) if token_cap else max_tokens
    )
    check_output(generation.output, prompt.schema, "model output")
    output, notes = agent(generation, request)
    if request.agent in _SCHEMA_OUTPUT_AGENTS:
        facts = {key: value for key, value in output.items() if key != EVIDENCE}
        check_output(facts, prompt.schema, f"the output of agent {request.agent}")
    return StepResult(
        output=output,
        prompt_ref=prompt.ref,
        prompt_sha256=messages_sha256(messages),
        output_sha256=output_sha256(output),
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        duration_ms=round(generation.duration_ms, 2),
        tokens_per_s=round(generation.tokens_per_s, 2),
        notes=notes,
        messages=messages,
    )
