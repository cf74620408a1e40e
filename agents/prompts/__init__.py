"""Versioned prompt files. The citizen's text only ever goes into the user message."""

from __future__ import annotations

import hashlib
import json
import re
import string
from dataclasses import dataclass, field
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
    evidence: dict[str, str] = field(default_factory=dict)
    """Fields whose values must carry the span of the request they came from, each ``text``
    or ``date`` (:func:`agents.evidence.verify`, which the control plane runs)."""

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


def load_prompt_ref(ref: str) -> Prompt:
    """The prompt a :attr:`Prompt.ref` names (``triage@v2``), as recorded on a step."""
    name, _, version = ref.partition("@v")
    if not name or not version.isdigit():
        raise PromptError(f"prompt reference {ref!r} is not of the form name@vN")
    return load_prompt(name, int(version))


def load_prompt(name: str, version: int) -> Prompt:
    path = PROMPTS_DIR / f"{name}.v{version}.yaml"
    if not path.is_file():
        raise PromptError(f"prompt {name}@v{version} not found ({path})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        prompt = Prompt(
            name=name,
            version=version,
            system=raw["system"].strip(),
            user=raw["user"].strip(),
            schema=raw["schema"],
            max_tokens=int(raw["max_tokens"]),
            evidence=dict(raw.get("evidence") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PromptError(f"prompt file {path} is malformed: {exc}") from exc
    _check_roles(prompt, path)
    _check_evidence(prompt, path)
    return prompt


def _check_evidence(prompt: Prompt, path: Path) -> None:
    fields = prompt.schema.get("properties", {})
    for name, kind in prompt.evidence.items():
        if name not in fields or kind not in ("text", "date"):
            raise PromptError(
                f"prompt file {path}: evidence names {name!r} as {kind!r}; each entry must be "
                "a field of the schema, as text or date"
            )


def _check_roles(prompt: Prompt, path: Path) -> None:
    """The system text is fixed (never templated) and the request has its place in the user
    template: a prompt file that would move the citizen's text elsewhere is refused."""
    if "$" in prompt.system:
        raise PromptError(
            f"prompt file {path}: the system text takes no placeholder; values, and the "
            "citizen's request above all, go only into the user template"
        )
    if prompt.user.count("$request") != 1:
        raise PromptError(f"prompt file {path}: the user template needs $request exactly once")


# Every character a reader (person or model) could take for an angle bracket, mapped to the
# single guillemets, which open no tag and no chat-template token.
_ANGLES = str.maketrans(
    {
        **dict.fromkeys("<\uff1c\ufe64\u2329\u3008\u27e8", "\u2039"),
        **dict.fromkeys(">\uff1e\ufe65\u232a\u3009\u27e9", "\u203a"),
    }
)
# Unicode tag characters: an invisible copy of ASCII ("ASCII smuggling") that no request needs.
_TAG_CHARACTERS = re.compile("[\U000e0000-\U000e007f]")


def delimit_citizen_text(text: str) -> str:
    """Wrap the citizen's text in delimiters it cannot close or reopen itself.

    Removing the two tags was not enough: a removal can rebuild them
    (``</citizen_req</citizen_request>uest>``), a variant (``</CITIZEN_REQUEST>``, the same
    in full-width brackets) reads as one to a model, and llama.cpp tokenizes the rendered
    chat with ``special=True``, so a citizen's ``<|im_start|>system`` became the model's real
    role token: their text in the system role. So the model's copy of the text holds no
    angle bracket at all (each becomes a single guillemet, U+2039 or U+203A) and no invisible
    tag character; nothing else changes (bidi marks and zero-width joiners are text in Arabic
    and Persian) and the stored request stays as written.
    """
    return f"{_OPEN}\n{clean_citizen_text(text)}\n{_CLOSE}"


def clean_citizen_text(text: str) -> str:
    """Citizen-written text with no angle bracket and no tag character (see
    :func:`delimit_citizen_text`), for the request and for the examples shown beside it."""
    return _TAG_CHARACTERS.sub("", text).translate(_ANGLES)


def messages_sha256(messages: list[dict[str, str]]) -> str:
    canonical = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
