"""A BENCHMARK-ONLY agent backend that answers every step at once, without a model.

``idara bench orchestration`` measures what the platform itself can carry (cases per second,
milliseconds of orchestration per case) with the model taken out. No setting enables this
backend: only that benchmark starts a node through ``python -m orchestrator.bench.instant_node``,
in its own data dir, and every step such a node runs records ``model_sha256 =
INSTANT_SHA256``, so no case it touched can pass for one a model worked on.

The answer is the smallest instance of the prompt's JSON schema (first enum value, ``null``
where allowed, the shortest string allowed), so the agent's own checks and post-processing run
as they do on a model's answer.
"""

from __future__ import annotations

import json
from typing import Any

from agents.runtime import Generation

INSTANT_SHA256 = "benchmark-only-instant-backend-not-a-model"


class UnsupportedSchema(ValueError):
    """A schema construct the instant backend cannot answer (say which step)."""


def smallest_instance(schema: dict[str, Any]) -> Any:
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches = schema[key]
            nulls = [b for b in branches if b.get("type") == "null"]
            return smallest_instance(nulls[0] if nulls else branches[0])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: smallest_instance(properties[name]) for name in schema.get("required", [])}
    if kind == "array":
        return [
            smallest_instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))
        ]
    if kind == "string":
        if "pattern" in schema:
            raise UnsupportedSchema(f"a string with a pattern ({schema['pattern']})")
        return "x" * max(schema.get("minLength", 0), 1)
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    raise UnsupportedSchema(f"type {kind!r}")


class InstantRuntime:
    """What ``workers.node.runtime_for`` returns on the benchmark's node."""

    sha256 = INSTANT_SHA256

    def __init__(self, model: str) -> None:
        self.model = model

    def generate_json(
        self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int
    ) -> Generation:
        output = smallest_instance(schema)
        return Generation(
            output=output,
            raw_text=json.dumps(output),
            prompt_tokens=0,
            completion_tokens=0,
            duration_ms=0.0,
            finish_reason="stop",
        )
