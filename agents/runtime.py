"""The LLM runtime: one llama.cpp model per process, JSON constrained by a JSON schema."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from agents.errors import InvalidOutputError, PromptError
from agents.manifest import ModelEntry, verified_model_path
from agents.prefix_cache import PrefixCache


@dataclass(frozen=True)
class Generation:
    """What one call of the model produced, with the figures an auditor and ops need."""

    output: dict[str, Any]
    raw_text: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float
    finish_reason: str

    @property
    def tokens_per_s(self) -> float:
        seconds = self.duration_ms / 1000.0
        return self.completion_tokens / seconds if seconds > 0 else 0.0


class LlamaRuntime:
    """A loaded GGUF model. ``llama_cpp.Llama`` is not thread-safe, so calls take a lock."""

    def __init__(
        self,
        entry: ModelEntry,
        model_dir: Path,
        threads: int = 0,
        n_ctx: int = 0,
        prefix_cache: bool = True,
    ):
        """``prefix_cache``: keep and restore each agent's shared prompt prefix
        (:mod:`agents.prefix_cache`); off only for the benchmark's plain reference."""
        from llama_cpp import Llama

        self.entry = entry
        self.path = verified_model_path(entry, model_dir)
        self.threads = threads or os.cpu_count() or 1
        started = time.perf_counter()
        self._llm = Llama(
            model_path=str(self.path),
            n_ctx=n_ctx or entry.context,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            seed=42,
            verbose=False,
        )
        self.load_ms = (time.perf_counter() - started) * 1000.0
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}
        self.prefixes = PrefixCache(self._llm) if prefix_cache else None

    @property
    def sha256(self) -> str:
        return self.entry.sha256

    def _grammar_for(self, schema: dict[str, Any]) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = LlamaGrammar.from_json_schema(key, verbose=False)
        return self._grammars[key]

    def generate_json(
        self,
        messages: list[dict[str, str]],
        schema: dict[str, Any],
        max_tokens: int,
        repeat_penalty: float = 1.1,
    ) -> Generation:
        """Generate one JSON object that the grammar and then ``jsonschema`` both accept."""
        with self._lock:
            self.refuse_control_tokens(messages)
            started = time.perf_counter()
            if self.prefixes is not None:
                self.prefixes.before(messages)
            response = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                grammar=self._grammar_for(schema),
                max_tokens=max_tokens,
                temperature=0.0,
                repeat_penalty=repeat_penalty,
            )
            duration_ms = (time.perf_counter() - started) * 1000.0
            usage = response["usage"]  # type: ignore[index]
            if self.prefixes is not None:
                self.prefixes.after(messages, int(usage["prompt_tokens"]))
        choice = response["choices"][0]  # type: ignore[index]
        text = choice["message"]["content"] or ""
        output = parse_json_output(text, schema, choice.get("finish_reason") or "")
        return Generation(
            output=output,
            raw_text=text,
            prompt_tokens=int(usage["prompt_tokens"]),
            completion_tokens=int(usage["completion_tokens"]),
            duration_ms=duration_ms,
            finish_reason=choice.get("finish_reason") or "",
        )

    def refuse_control_tokens(self, messages: list[dict[str, str]]) -> None:
        """Refuse a message whose text the tokenizer would read as control tokens.

        llama-cpp-python renders the chat template and tokenizes the result with
        ``special=True``, so text spelling a model's role markers (``<|im_start|>system`` for
        ChatML, ``[INST]`` or ``<start_of_turn>`` for others) would open a real new turn: a
        citizen's text in the system role. ``delimit_citizen_text`` removes the angle brackets
        such markers need; this check holds for any model's markers: the text of each message
        must tokenize the same whether special tokens are parsed or not.
        """
        for message in messages:
            data = message["content"].encode("utf-8")
            if self._llm.tokenize(data, add_bos=False, special=True) != self._llm.tokenize(
                data, add_bos=False, special=False
            ):
                raise PromptError(
                    f"the {message['role']} message holds text that model {self.entry.name} "
                    "reads as its control tokens (chat-template markers); refused"
                )


def parse_json_output(text: str, schema: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    """Parse and validate the model's text; a truncated or off-schema answer is an error."""
    try:
        # strict=False: llama.cpp's grammar lets raw control characters into strings.
        value = _clean_strings(json.loads(text, strict=False))
    except json.JSONDecodeError as exc:
        hint = " (the token cap cut it short)" if finish_reason == "length" else ""
        raise InvalidOutputError(f"model output is not valid JSON{hint}: {text[:200]!r}") from exc
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        raise InvalidOutputError(f"model output does not match the schema: {exc.message}") from exc
    if not isinstance(value, dict):
        raise InvalidOutputError("model output is not a JSON object")
    return value


def _clean_strings(value: Any) -> Any:
    """Collapse whitespace and drop control characters in every string of a JSON value."""
    if isinstance(value, str):
        return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    if isinstance(value, dict):
        return {key: _clean_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_strings(item) for item in value]
    return value
