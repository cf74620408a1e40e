"""Versioned prompt files. The citizen's text only ever goes into the user message."""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agents.errors import PromptError

PROMPTS_DIR = Path(__file__).resolve().parent
_OPEN, _CLOSE = "<citizen_request>", "</citizen_request>"


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    system: str
    user: str
    schema: dict[str, Any]
    max_tokens: int

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"

    def render(self, values: dict[str, str]) -> list[dict[str, str]]:
        """Fill the user template; values are inserted as data, never evaluated."""
        user = self._fill(values)
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def _fill(self, values: dict[str, str]) -> str:
        try:
            return string.Template(self.user).substitute(values)
        except KeyError as exc:
            raise PromptError(f"prompt {self.ref}: no value for placeholder {exc}") from exc


def load_prompt(name: str, version: int) -> Prompt:
    path = PROMPTS_DIR / f"{name}.v{version}.yaml"
    if not path.is_file():
        raise PromptError(f"prompt {name}@v{version} not found ({path})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return Prompt(
            name=name,
            version=version,
            system=raw["system"].strip(),
            user=raw["user"].strip(),
            schema=raw["schema"],
            max_tokens=int(raw["max_tokens"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PromptError(f"prompt file {path} is malformed: {exc}") from exc


def delimit_citizen_text(text: str) -> str:
    """Wrap the citizen's text in delimiters it cannot close or reopen itself."""
    cleaned = text.replace(_OPEN, "").replace(_CLOSE, "")
    return f"{_OPEN}\n{cleaned}\n{_CLOSE}"


def messages_sha256(messages: list[dict[str, str]]) -> str:
    canonical = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
