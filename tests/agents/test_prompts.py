"""A prompt found again from the reference a step records (``name@vN``)."""

from __future__ import annotations

import pytest

from agents.errors import PromptError
from agents.prompts import load_prompt, load_prompt_ref


def test_a_recorded_reference_loads_the_same_prompt() -> None:
    prompt = load_prompt("triage/classify", 1)
    assert load_prompt_ref(prompt.ref) == prompt


@pytest.mark.parametrize("ref", ["triage", "triage@v", "triage@vtwo", "@v2"])
def test_a_reference_that_is_not_name_at_version_says_so(ref: str) -> None:
    with pytest.raises(PromptError, match="not of the form name@vN"):
        load_prompt_ref(ref)
