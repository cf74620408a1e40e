"""What every tool shares: its description, its context, its error, and safe access to the data.

Kept apart from the registry in ``agents.tools`` so that each tool module can import it
without importing the registry that imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agents.errors import AgentError


class ToolError(AgentError):
    """A tool was refused (unknown, bad arguments) or could not answer (unknown key, bad data)."""


@dataclass(frozen=True)
class ToolContext:
    documents_dir: Path  # the folder seeds/regulations (configurable)
    language: str  # "fr", "ar" or "en": the case's language, for labels in outputs


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_schema: dict[str, Any]  # JSON Schema (draft 2020-12); additionalProperties: false
    run: Callable[[dict[str, Any], ToolContext], dict[str, Any]]


def documents_root(context: ToolContext) -> Path:
    root = context.documents_dir.resolve()
    if not root.is_dir():
        raise ToolError(f"documents folder not found: {root}")
    return root


def inside(root: Path, *parts: str) -> Path:
    """``root / parts``, refused when it resolves (symlinks included) outside ``root``."""
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root):
        raise ToolError(f"path {'/'.join(parts)!r} is outside the documents folder")
    return path


def load_yaml_mapping(context: ToolContext, name: str) -> dict[str, Any]:
    path = inside(documents_root(context), name)
    if not path.is_file():
        raise ToolError(f"data file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ToolError(f"data file {path} cannot be read: {exc}") from exc
    if not isinstance(raw, dict):
        raise ToolError(f"data file {path} is malformed: expected a mapping at the top")
    return raw


def section(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """``data[key]``, which must be a mapping; ``where`` names it in the error."""
    value = data.get(key)
    if not isinstance(value, dict):
        raise ToolError(f"{where} is malformed: {key!r} must be a mapping")
    return value


def choose(kind: str, value: str, known: dict[str, Any]) -> Any:
    """``known[value]``, or a ToolError that lists the valid choices."""
    if value not in known:
        choices = ", ".join(sorted(known)) or "none"
        raise ToolError(f"unknown {kind} {value!r}; valid: {choices}")
    return known[value]
