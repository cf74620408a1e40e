"""Evidence for extracted values: the span of the request each value was read from.

An extraction agent returns, beside each value, the character offsets of the request text it
came from (``output["evidence"][field] = {"start", "end"}``). :func:`verify` is the control
plane's check of that claim: the span must lie inside the request and hold the value (dates:
a date the parser reads as that value). A value without such a span is dropped (``None``) and
flagged (``evidence[field] = {"dropped": value, "reason": ...}``), never shown as a fact.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from agents.dates import find_dates
from agents.folding import ARABIC_LETTER_VARIANTS

EVIDENCE = "evidence"
"""The output member where an agent says what each value rests on (the examples that voted, the
span of the request a value was read from); the prompt's schema covers the other members."""
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
_FOLD = str.maketrans({**ARABIC_LETTER_VARIANTS, "’": "'", "`": "'"})


def _fold_char(ch: str) -> str:
    """One character folded for matching ("" for a mark): case, accents, Arabic variants."""
    if _ARABIC_MARKS.match(ch):
        return ""
    base = "".join(
        c for c in unicodedata.normalize("NFD", ch.lower()) if unicodedata.category(c) != "Mn"
    )
    return base.translate(_FOLD)


def folded(text: str) -> tuple[str, list[int]]:
    """``text`` folded, and for each folded character the offset it came from."""
    out: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        for piece in _fold_char(ch):
            out.append(piece)
            origin.append(index)
    return "".join(out), origin


def _is_boundary(text: str, index: int) -> bool:
    return index <= 0 or index >= len(text) or not text[index].isalnum()


def locate(value: str, text: str) -> tuple[int, int] | None:
    """Where ``value`` is written in ``text``, as whole words (case, accents and Arabic letter
    variants aside; an Arabic prefix letter such as ب or ل may stand before it); else None."""
    needle = " ".join(value.split())
    if not needle:
        return None
    folded_text, origin = folded(text)
    folded_needle, _ = folded(needle)
    folded_text_spaced = re.sub(r"\s", " ", folded_text)
    start = 0
    while True:
        found = folded_text_spaced.find(folded_needle, start)
        if found < 0:
            return None
        end = found + len(folded_needle)
        before_ok = _is_boundary(folded_text_spaced, found - 1) or (
            found >= 1
            and folded_text_spaced[found - 1] in "بلوف"
            and _is_boundary(folded_text_spaced, found - 2)
        )
        if before_ok and _is_boundary(folded_text_spaced, end):
            return origin[found], origin[end - 1] + 1
        start = found + 1


def quoted(start: int, end: int, text: str) -> dict[str, Any]:
    """The evidence of a value read at ``text[start:end]``."""
    return {"start": start, "end": end, "quote": text[start:end]}


def span_of(value: Any, text: str, kind: str = "text") -> dict[str, Any] | None:
    """The evidence of one value: ``{"start", "end", "quote"}``, or None when not found."""
    if not isinstance(value, str) or not value.strip():
        return None
    if kind == "date":
        for mention in find_dates(text):
            if mention.iso == value:
                return quoted(mention.start, mention.end, text)
        return None
    where = locate(value, text)
    if where is None:
        return None
    return quoted(where[0], where[1], text)


def verify(
    output: dict[str, Any], text: str, kinds: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """Check each field in ``kinds`` (``text`` or ``date``) against its claimed span; keep a
    value only when its span holds it. Returns the output to store and notes for the case."""
    checked = dict(output)
    claimed = dict(output.get(EVIDENCE) or {})
    evidence: dict[str, Any] = {}
    notes: list[str] = []
    for field, kind in kinds.items():
        value = checked.get(field)
        if value is None or value == "":
            checked[field] = None
            continue
        span = claimed.get(field)
        reason = _refusal(value, span, text, kind)
        if reason is None:
            assert isinstance(span, dict)
            evidence[field] = quoted(span["start"], span["end"], text)
            if "by" in span:
                evidence[field]["by"] = str(span["by"])
            continue
        checked[field] = None
        evidence[field] = {"dropped": value, "reason": reason}
        notes.append(f"{field}: {value!r} dropped: {reason}")
    for field, item in claimed.items():  # what the agent itself flagged and dropped
        if field not in evidence and isinstance(item, dict) and "dropped" in item:
            evidence[field] = item
    checked[EVIDENCE] = evidence
    return checked, notes


def _refusal(value: Any, span: Any, text: str, kind: str) -> str | None:
    """Why ``span`` is no evidence for ``value`` (None when it is)."""
    if not isinstance(span, dict) or "start" not in span or "end" not in span:
        return "no span of the request given"
    start, end = span["start"], span["end"]
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        return f"span {start}-{end} is not inside the request"
    quote = text[start:end]
    if kind == "date":
        if any(m.iso == value for m in find_dates(quote)):
            return None
        return f"the request's text there ({quote!r}) is not that date"
    if locate(str(value), quote) == (0, len(quote)) or _same(str(value), quote):
        return None
    return f"the request's text there ({quote!r}) is not that value"


def _same(a: str, b: str) -> bool:
    return folded(" ".join(a.split()))[0] == folded(" ".join(b.split()))[0]
