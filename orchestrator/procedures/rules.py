"""``rule`` steps: deterministic checks whose failures are messages a clerk understands."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from orchestrator.procedures.conditions import MISSING, resolve
from orchestrator.procedures.schemas import RuleCheck, RuleStep, text_in


def evaluate(
    step: RuleStep, namespace: dict[str, Any], language: str, today: date
) -> dict[str, Any]:
    failures = [
        {"path": check.path, "message": text_in(check.message, language)}
        for check in step.checks
        if not passes(check, resolve(namespace, check.path), today)
    ]
    return {
        "passed": not failures,
        "failures": failures,
        "messages": [f["message"] for f in failures],
        "checked": len(step.checks),
    }


def passes(check: RuleCheck, value: Any, today: date) -> bool:
    """An absent or empty value fails ``required`` and passes every other test (a check on an
    optional field applies only when the field is there)."""
    if value is MISSING or value == "" or value == []:
        return not check.required
    return not _failed_tests(check, value, today)


def _failed_tests(check: RuleCheck, value: Any, today: date) -> list[str]:
    """The names of the tests of ``check`` that ``value`` fails."""
    failed = []
    number, born = _number(value), parse_date(value)
    if check.pattern is not None and not re.fullmatch(check.pattern, str(value)):
        failed.append("pattern")
    if check.one_of is not None and str(value) not in check.one_of:
        failed.append("one_of")
    if check.minimum is not None and (number is None or number < check.minimum):
        failed.append("minimum")
    if check.maximum is not None and (number is None or number > check.maximum):
        failed.append("maximum")
    age = _age(born, today)
    if check.min_age_years is not None and (age is None or age < check.min_age_years):
        failed.append("min_age_years")
    if check.max_age_years is not None and (age is None or age > check.max_age_years):
        failed.append("max_age_years")
    if check.not_in_future and (born is None or born > today):
        failed.append("not_in_future")
    if check.contains_all is not None and not set(check.contains_all) <= set(_items(value)):
        failed.append("contains_all")
    return failed


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_date(value: Any) -> date | None:
    """ISO dates (2019-03-03) and the dd/mm/yyyy form people write."""
    text = str(value).strip()
    for form in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            continue
    return None


def _age(born: date | None, today: date) -> int | None:
    if born is None or born > today:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _items(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]
