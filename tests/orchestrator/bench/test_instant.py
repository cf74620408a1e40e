"""The benchmark-only instant backend: valid answers for every shipped prompt, and a mark on
every step it runs."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from agents.prompts import PROMPTS_DIR
from orchestrator.bench.instant import (
    INSTANT_SHA256,
    InstantRuntime,
    UnsupportedSchema,
    smallest_instance,
)

PROMPT_FILES = sorted(Path(PROMPTS_DIR).rglob("*.v*.yaml"))


@pytest.mark.parametrize("path", PROMPT_FILES, ids=lambda p: p.stem)
def test_every_shipped_prompt_gets_an_answer_its_schema_accepts(path: Path) -> None:
    schema = yaml.safe_load(path.read_text(encoding="utf-8"))["schema"]
    answer = InstantRuntime("smollm2-135m").generate_json([], schema, 64)
    jsonschema.validate(answer.output, schema)
    assert answer.completion_tokens == 0 and answer.duration_ms == 0.0


def test_the_smallest_instance_takes_null_first_enum_and_minimum_length() -> None:
    schema = {
        "type": "object",
        "properties": {
            "kind": {"enum": ["b", "a"]},
            "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "code": {"type": "string", "minLength": 4},
            "count": {"type": "integer", "minimum": 2},
            "tags": {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
            "optional": {"type": "string"},
        },
        "required": ["kind", "name", "code", "count", "tags"],
    }
    assert smallest_instance(schema) == {
        "kind": "b",
        "name": None,
        "code": "xxxx",
        "count": 2,
        "tags": [False, False],
    }


def test_a_pattern_it_cannot_satisfy_is_refused_not_guessed() -> None:
    with pytest.raises(UnsupportedSchema, match="pattern"):
        smallest_instance({"type": "string", "pattern": "^[A-Z]{2}[0-9]{6}$"})


def test_its_steps_can_never_pass_for_a_model_s() -> None:
    assert InstantRuntime("smollm2-135m").sha256 == INSTANT_SHA256
    assert len(INSTANT_SHA256) != 64  # not a sha256: no catalogue entry can match it
