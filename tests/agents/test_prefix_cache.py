"""Kept prompt prefixes on the real default model: the same answers, less prompt evaluated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents.manifest import load_manifest
from agents.prefix_cache import MIN_PREFIX_TOKENS, PrefixCache
from agents.runtime import LlamaRuntime
from agents.steps import StepContext, StepRequest, run_step
from workers.settings import SEEDS_DIR

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


def _free_text(llm: Any, messages: list[dict[str, str]], cache: PrefixCache | None) -> str:
    """A completion with no grammar, so nothing forces its first token: a first token sampled
    from the wrong logits shows in the text."""
    if cache is not None:
        cache.before(messages)
    answer = llm.create_chat_completion(messages=messages, max_tokens=12, temperature=0.0)
    if cache is not None:
        cache.after(messages, int(answer["usage"]["prompt_tokens"]))
    return str(answer["choices"][0]["message"]["content"])


def test_a_prompt_equal_to_its_kept_prefix_is_answered_from_that_prefix() -> None:
    """The same prompt a third time: the prefix learned from the first two is the whole prompt,
    so its answer must be sampled from logits computed for that prefix, not from the logits
    the context held after another agent's prompt."""
    greet = [
        {"role": "system", "content": "You answer in one short French sentence."},
        {"role": "user", "content": "Say good morning to the clerk."},
    ]
    count = [
        {"role": "system", "content": "You list numbers, nothing else."},
        {"role": "user", "content": "Count from one to five."},
    ]
    expected = _free_text(_runtime(prefix_cache=False)._llm, greet, None)
    runtime = _runtime(prefix_cache=True)
    cache = runtime.prefixes
    assert cache is not None
    answers = []
    for _ in range(3):
        answers.append(_free_text(runtime._llm, greet, cache))
        _free_text(runtime._llm, count, cache)  # another system prompt in between
    assert answers == [expected] * 3
    assert cache.stats.restored >= 1


def test_a_runtime_without_the_cache_keeps_nothing() -> None:
    assert _runtime(prefix_cache=False).prefixes is None
