"""Keep the KV cache of each agent's shared prompt prefix, and restore it before a step.

Every step of one agent starts with the same tokens: the chat template's opening, the agent's
system prompt, the opening of the user turn. On a CPU node, evaluating a prompt is a large
share of a step's model time (the triage prompts spent 30 to 90% of their time there on the
2-core development machine), and llama-cpp-python reuses only the prefix shared with the one
prompt it evaluated last: a node that runs classify, extract, classify… pays for each system
prompt again and again.

This cache learns each prefix from two prompts with the same system message (their longest
common token prefix), keeps llama.cpp's state for that prefix alone (sequence 0's KV cells:
about 5 MB for the default model's longest triage prefix), and puts it back in the context
before a later step with that system message. llama-cpp-python then finds the prefix already
evaluated, as it does for its own reuse, and evaluates only the rest. Its own check compares
the prompt's tokens one by one with what the context holds, so a prefix that turns out not to
match only means less is reused; the tokens the model sees are the prompt's.
"""

from __future__ import annotations

import ctypes
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

MIN_PREFIX_TOKENS = 16
"""Shorter shared prefixes are not worth a state copy."""


@dataclass(frozen=True)
class _Prefix:
    tokens: tuple[int, ...]
    state: Any  # a ctypes byte array from llama_state_seq_get_data
    size: int


@dataclass
class PrefixStats:
    restored: int = 0
    """Steps that started from a kept prefix."""
    kept: int = 0
    reused_tokens: int = 0
    """Prompt tokens not evaluated again thanks to a restored prefix."""


class PrefixCache:
    """Prefixes by system message, for one ``llama_cpp.Llama``; the caller holds its lock."""

    def __init__(self, llm: Any, capacity: int = 16) -> None:
        self._llm = llm
        self._capacity = capacity
        self._prefixes: OrderedDict[str, _Prefix] = OrderedDict()
        self._last_prompt: dict[str, tuple[int, ...]] = {}
        self.stats = PrefixStats()

    def before(self, messages: list[dict[str, str]]) -> None:
        """Put the kept prefix of these messages' system prompt in the context, unless the
        context already starts with it."""
        key = _key(messages)
        prefix = self._prefixes.get(key)
        if prefix is None:
            return
        self._prefixes.move_to_end(key)
        held = _common_length(self._context_tokens(), prefix.tokens)
        if held == len(prefix.tokens):
            return
        if not self._restore(prefix):
            return
        self.stats.restored += 1
        self.stats.reused_tokens += len(prefix.tokens) - held

    def after(self, messages: list[dict[str, str]], prompt_tokens: int) -> None:
        """Learn the prefix from this prompt and the last one with the same system message;
        keep its state once learned."""
        key = _key(messages)
        if key in self._prefixes:
            return
        prompt = tuple(self._context_tokens()[:prompt_tokens])
        previous = self._last_prompt.pop(key, None)
        self._last_prompt[key] = prompt
        while len(self._last_prompt) > self._capacity:  # system messages seen once stay few
            del self._last_prompt[next(iter(self._last_prompt))]
        if previous is None:
            return
        shared = _common_length(previous, prompt)
        if shared < MIN_PREFIX_TOKENS:
            return
        self._keep(key, prompt[:shared])

    def _context_tokens(self) -> list[int]:
        return list(self._llm.input_ids[: self._llm.n_tokens])

    def _keep(self, key: str, tokens: tuple[int, ...]) -> None:
        """Cut the context back to ``tokens`` (the next prompt re-evaluates what followed
        anyway) and copy sequence 0's state."""
        import llama_cpp

        llm = self._llm
        if not llm._ctx.kv_cache_seq_rm(0, len(tokens), -1):
            return
        llm.n_tokens = len(tokens)
        llm._requires_eval = True  # the logits held are not the prefix's last token's
        size = llama_cpp.llama_state_seq_get_size(llm._ctx.ctx, 0)
        state = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llm._ctx.ctx, state, size, 0)
        if written == 0:
            return
        self._prefixes[key] = _Prefix(tokens, state, written)
        self._last_prompt.pop(key, None)
        self.stats.kept += 1
        while len(self._prefixes) > self._capacity:
            self._prefixes.popitem(last=False)

    def _restore(self, prefix: _Prefix) -> bool:
        import llama_cpp

        llm = self._llm
        llm._ctx.kv_cache_clear()
        llm.n_tokens = 0
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, prefix.state, prefix.size, 0) == 0:
            llm._ctx.kv_cache_clear()
            return False
        llm.input_ids[: len(prefix.tokens)] = prefix.tokens
        llm.n_tokens = len(prefix.tokens)
        # A prompt equal to the prefix must not be sampled from the logits the context held
        # before: this makes llama-cpp-python evaluate its last token again (as load_state does).
        llm._requires_eval = True
        return True


def _key(messages: list[dict[str, str]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    return hashlib.sha256(system.encode("utf-8")).hexdigest()


def _common_length(a: Any, b: Any) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count
