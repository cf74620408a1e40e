"""What an agent's values rest on, as a supervisor reads it: the request with each extracted
value's span highlighted, the values dropped for want of evidence, and a classification's
vote with its nearest examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agents.evidence import EVIDENCE


@dataclass(frozen=True)
class Segment:
    text: str
    field: str | None = None
    """The field whose value this part of the request is (highlighted), else None."""


def spans(outputs: dict[str, Any]) -> list[tuple[int, int, str]]:
    """``(start, end, "step: field")`` of every kept value's span, in request order."""
    found = []
    for step, output in outputs.items():
        if not isinstance(output, dict):
            continue
        for field, item in (output.get(EVIDENCE) or {}).items():
            if isinstance(item, dict) and isinstance(item.get("start"), int):
                found.append((item["start"], item["end"], f"{step}: {field}"))
    return sorted(found)


def segments(text: str, outputs: dict[str, Any]) -> list[Segment]:
    """The request cut into plain and highlighted parts (overlapping spans: the first wins)."""
    parts: list[Segment] = []
    at = 0
    for start, end, field in spans(outputs):
        if start < at or end > len(text):
            continue
        if start > at:
            parts.append(Segment(text[at:start]))
        parts.append(Segment(text[start:end], field))
        at = end
    if at < len(text):
        parts.append(Segment(text[at:]))
    return parts


def without_evidence(output: Any) -> Any:
    if isinstance(output, dict) and EVIDENCE in output:
        return {key: value for key, value in output.items() if key != EVIDENCE}
    return output


def dropped(outputs: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(step, field, value, reason)`` of each value dropped for want of evidence."""
    found = []
    for step, output in outputs.items():
        if isinstance(output, dict):
            for field, item in (output.get(EVIDENCE) or {}).items():
                if isinstance(item, dict) and "dropped" in item:
                    found.append((step, field, str(item["dropped"]), str(item.get("reason", ""))))
    return found


def decisions(outputs: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """``(step, field, decision)`` of each classification decided with an example bank."""
    found = []
    for step, output in outputs.items():
        if isinstance(output, dict):
            for field, item in (output.get(EVIDENCE) or {}).items():
                if isinstance(item, dict) and "vote" in item:
                    found.append((step, field, item))
    return found
