"""Allow-listed tools a procedure's ``tool`` step may call: deterministic, local, no network.

Only the tools in :data:`TOOLS` can ever run. :func:`run_tool` checks the arguments against the
tool's JSON Schema first, and returns the output with the hashes the audit log stores.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from agents.language import REPLY_LANGUAGES
from agents.tools import documents, fees, regulations
from agents.tools.base import Tool, ToolContext, ToolError

__all__ = [
    "TOOLS",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolResult",
    "argument_errors",
    "canonical_sha256",
    "get_tool",
    "run_tool",
]

TOOLS: dict[str, Tool] = {tool.name: tool for tool in (regulations.TOOL, documents.TOOL, fees.TOOL)}
_VALIDATORS = {name: Draft202012Validator(tool.args_schema) for name, tool in TOOLS.items()}


@dataclass(frozen=True)
class ToolResult:
    output: dict[str, Any]
    args_sha256: str
    output_sha256: str
    duration_ms: float


def canonical_sha256(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``: equal values, equal hashes."""
    canonical = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def get_tool(name: str) -> Tool:
    if name not in TOOLS:
        raise ToolError(f"unknown tool {name!r}; known tools: {', '.join(sorted(TOOLS))}")
    return TOOLS[name]


def argument_errors(name: str, args: dict[str, Any]) -> list[str]:
    """Every problem with ``args``, each as ``"field: reason"``; ``[]`` when they are valid."""
    if name not in TOOLS:
        return [f"tool: unknown tool {name!r}; known tools: {', '.join(sorted(TOOLS))}"]
    problems = (_describe(error) for error in _VALIDATORS[name].iter_errors(args))
    return sorted({line for lines in problems for line in lines})


def run_tool(name: str, args: dict[str, Any], context: ToolContext) -> ToolResult:
    tool = get_tool(name)
    errors = argument_errors(name, args)
    if errors:
        raise ToolError(f"tool {name}: invalid arguments: {'; '.join(errors)}")
    if context.language not in REPLY_LANGUAGES:
        raise ToolError(f"tool {name}: unsupported language {context.language!r}")
    args_sha256 = canonical_sha256(args)
    started = time.perf_counter()
    output = tool.run(args, context)
    duration_ms = (time.perf_counter() - started) * 1000
    return ToolResult(output, args_sha256, canonical_sha256(output), round(duration_ms, 3))


def _describe(error: Any) -> list[str]:
    """``"field: reason"`` lines for one jsonschema error, without echoing the value itself."""
    kind, expected = error.validator, error.validator_value
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [
            f"{_where(error.absolute_path, f)}: is required" for f in expected if f not in present
        ]
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = [f for f in error.instance if f not in allowed]
        return [f"{_where(error.absolute_path, f)}: is not an allowed argument" for f in extra]
    return [f"{_where(error.absolute_path)}: {_reason(kind, expected, error.message)}"]


_REASONS = {
    "type": "must be of type {}",
    "pattern": "must match {}",
    "minLength": "length must be at least {}",
    "maxLength": "length must be at most {}",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
    "minItems": "must hold at least {} items",
    "maxItems": "must hold at most {} items",
}


def _reason(kind: str, expected: Any, message: str) -> str:
    if kind in _REASONS:
        shown = " or ".join(expected) if isinstance(expected, list) else expected
        return _REASONS[kind].format(shown)
    return message[:200]


def _where(path: Any, field: str | None = None) -> str:
    parts = [*path, field] if field is not None else list(path)
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return text or "arguments"
