"""The LLM runtime on the real default model."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.errors import InvalidOutputError
from agents.language import arabic_share, detect_language
from agents.manifest import load_manifest
from agents.runtime import LlamaRuntime, parse_json_output
from agents.steps import StepContext, StepRequest, run_step
from workers.settings import SEEDS_DIR

DEPARTMENTS = {
    "civil_status",
    "urban_planning",
    "taxation",
    "health",
    "education",
    "social_assistance",
    "transport",
    "other",
}
FRENCH = (
    "Bonjour, je suis Amina Berrada (CIN AA112233), j'habite à Meknès. Je demande un "
    "extrait d'acte de naissance. Merci."
)


@pytest.fixture(scope="module")
def runtime() -> LlamaRuntime:
    entry = load_manifest(SEEDS_DIR / "models" / "manifest.json")["smollm2-135m"]
    return LlamaRuntime(entry, Path("."), threads=2)


def _context(text: str, language: str, outputs: dict | None = None) -> StepContext:
    return StepContext(
        text=text,
        language=language,
        reference="IDR-TEST-1",
        submitted_on="2026-11-23",
        outputs=outputs or {},
    )


def test_classification_is_one_allowed_department_and_urgency(runtime: LlamaRuntime) -> None:
    request = StepRequest(
        agent="classify", prompt="triage/classify", prompt_version=1, context=_context(FRENCH, "fr")
    )
    result = run_step(runtime, request)
    assert result.output["department"] in DEPARTMENTS
    assert result.output["urgency"] in {"low", "normal", "high"}
    assert result.prompt_tokens > 50 and result.completion_tokens > 0
    assert result.duration_ms > 0 and result.tokens_per_s > 0
    assert len(result.prompt_sha256) == 64 and len(result.output_sha256) == 64
    assert result.prompt_ref == "triage/classify@v1"


def test_extraction_keeps_only_a_cin_that_is_in_the_request(runtime: LlamaRuntime) -> None:
    request = StepRequest(
        agent="extract", prompt="triage/extract", prompt_version=1, context=_context(FRENCH, "fr")
    )
    output = run_step(runtime, request).output
    assert set(output) == {"applicant_name", "cin", "location", "requested_item"}
    assert output["cin"] == "AA112233"
    assert output["requested_item"]


def test_token_cap_is_respected(runtime: LlamaRuntime) -> None:
    request = StepRequest(
        agent="classify",
        prompt="triage/classify",
        prompt_version=1,
        context=_context(FRENCH, "fr"),
        max_tokens=4,
    )
    with pytest.raises(InvalidOutputError, match="token cap"):
        run_step(runtime, request)


@pytest.mark.parametrize(
    "language,text",
    [
        ("fr", FRENCH),
        ("ar", "السلام عليكم، أنا سعيد الحسني من مراكش، أطلب شهادة السكنى. شكرا."),
        ("en", "Hello, I am Peter Jones from Rabat and I need a copy of my marriage certificate."),
    ],
)
def test_letter_is_in_the_requests_language(
    runtime: LlamaRuntime, language: str, text: str
) -> None:
    outputs = {
        "classify": {"department": "civil_status", "urgency": "normal"},
        "extract": {"applicant_name": None, "requested_item": "certificate"},
    }
    request = StepRequest(
        agent="draft_acknowledgement",
        prompt="triage/draft",
        prompt_version=1,
        context=_context(text, language, outputs),
    )
    output = run_step(runtime, request).output
    letter = output["letter"]
    assert output["language"] == language
    assert "IDR-TEST-1" in letter and output["subject"] in letter
    assert detect_language(letter) == language
    if language == "ar":
        assert arabic_share(letter) > 0.5


def test_truncated_or_off_schema_output_is_an_error() -> None:
    schema = {"type": "object", "properties": {"a": {"enum": ["x"]}}, "required": ["a"]}
    with pytest.raises(InvalidOutputError, match="token cap"):
        parse_json_output('{"a": "x', schema, "length")
    with pytest.raises(InvalidOutputError, match="does not match the schema"):
        parse_json_output('{"a": "y"}', schema, "stop")
    assert parse_json_output('{"a": "x"}', schema, "stop") == {"a": "x"}
