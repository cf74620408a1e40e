"""Kept prompt prefixes on the real default model: the same answers, less prompt evaluated."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.manifest import load_manifest
from agents.prefix_cache import MIN_PREFIX_TOKENS
from agents.runtime import LlamaRuntime
from agents.steps import StepContext, StepRequest, run_step
from orchestrator.settings import SEEDS_DIR

REQUESTS = [
    ("fr", "Bonjour, je demande un extrait d'acte de naissance pour ma fille. Merci."),
    ("en", "Hello, the streetlight in front of 12 Palm Road has been broken for a month."),
    ("fr", "Je souhaite contester ma taxe d'habitation de cette année, le montant est faux."),
]


def _runtime(prefix_cache: bool) -> LlamaRuntime:
    entry = load_manifest(SEEDS_DIR / "models" / "manifest.json")["smollm2-135m"]
    return LlamaRuntime(entry, Path("."), threads=2, prefix_cache=prefix_cache)


def _alternating(runtime: LlamaRuntime) -> list[dict]:
    """classify, extract, classify, extract…: each prompt follows one of another agent, so
    llama-cpp-python's own reuse (of the last prompt's prefix) saves nothing."""
    outputs = []
    for language, text in REQUESTS:
        context = StepContext(text=text, language=language, reference="IDR-T", submitted_on="x")
        for agent in ("classify", "extract"):
            prompt = f"triage/{agent}"
            request = StepRequest(agent=agent, prompt=prompt, prompt_version=1, context=context)
            outputs.append(run_step(runtime, request).output)
    return outputs


@pytest.fixture(scope="module")
def plain() -> list[dict]:
    return _alternating(_runtime(prefix_cache=False))


def test_kept_prefixes_give_the_same_answers_and_skip_the_system_prompts(
    plain: list[dict],
) -> None:
    runtime = _runtime(prefix_cache=True)
    assert _alternating(runtime) == plain
    stats = runtime.prefixes.stats if runtime.prefixes else None
    assert stats is not None
    assert stats.kept == 2  # one per agent, learned from its first two prompts
    assert stats.restored == 2  # the third classify and the third extract started from them
    assert stats.reused_tokens >= 2 * MIN_PREFIX_TOKENS


def test_a_prompt_equal_to_its_kept_prefix_is_answered_as_a_plain_runtime_answers() -> None:
    """The same request three times: the prefix learned from the first two is the whole
    prompt, and the third starts from it; its answer must come from that state, not from the
    logits the context held before."""
    context = StepContext(text=REQUESTS[0][1], language="fr", reference="IDR-T", submitted_on="x")
    request = StepRequest(
        agent="classify", prompt="triage/classify", prompt_version=1, context=context
    )
    other = StepRequest(agent="extract", prompt="triage/extract", prompt_version=1, context=context)
    expected = run_step(_runtime(prefix_cache=False), request).output
    runtime = _runtime(prefix_cache=True)
    answers = []
    for _ in range(3):
        answers.append(run_step(runtime, request).output)
        run_step(runtime, other)  # another agent's prompt in between
    assert answers == [expected] * 3
    assert runtime.prefixes is not None and runtime.prefixes.stats.restored >= 1


def test_a_runtime_without_the_cache_keeps_nothing() -> None:
    assert _runtime(prefix_cache=False).prefixes is None
