"""Reading a path (``applicant.cin``, ``outputs.documents.complete``) and testing ``when:``.

Paths and conditions are data, never code: nothing a procedure author or a citizen writes is
evaluated.
"""

from __future__ import annotations

from typing import Any

from orchestrator.procedures.schemas import Condition


class Missing:
    """What a path resolves to when the value is not there (a skipped step, an empty field)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = Missing()


def resolve(namespace: dict[str, Any], path: str) -> Any:
    """Follow a dotted path through dicts (and list indices); ``MISSING`` when absent."""
    current: Any = namespace
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return MISSING if current is None else current


def holds(condition: Condition, namespace: dict[str, Any]) -> bool:
    if condition.all is not None:
        return all(holds(c, namespace) for c in condition.all)
    if condition.any is not None:
        return any(holds(c, namespace) for c in condition.any)
    if condition.not_ is not None:
        return not holds(condition.not_, namespace)
    assert condition.path is not None
    value = resolve(namespace, condition.path)
    fields = condition.model_fields_set
    if "exists" in fields:
        return (value is not MISSING) == bool(condition.exists)
    if "equals" in fields:
        return value is not MISSING and value == condition.equals
    if "not_equals" in fields:
        return value is MISSING or value != condition.not_equals
    return value is not MISSING and value in (condition.in_ or [])


def describe(condition: Condition) -> str:
    """A short human reading of a condition, for a skipped step's note."""
    if condition.all is not None:
        return " and ".join(describe(c) for c in condition.all)
    if condition.any is not None:
        return " or ".join(describe(c) for c in condition.any)
    if condition.not_ is not None:
        return f"not ({describe(condition.not_)})"
    fields = condition.model_fields_set
    if "exists" in fields:
        return f"{condition.path} {'exists' if condition.exists else 'is absent'}"
    if "equals" in fields:
        return f"{condition.path} = {condition.equals!r}"
    if "not_equals" in fields:
        return f"{condition.path} ≠ {condition.not_equals!r}"
    return f"{condition.path} in {condition.in_!r}"


def paths_of(condition: Condition) -> list[str]:
    """Every path a condition reads (for checking that it names earlier steps)."""
    found = [condition.path] if condition.path else []
    for child in (condition.all or []) + (condition.any or []):
        found += paths_of(child)
    if condition.not_ is not None:
        found += paths_of(condition.not_)
    return found
