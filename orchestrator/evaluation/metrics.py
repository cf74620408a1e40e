"""The figures of an evaluation: classification and extraction, overall and per language."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.evidence import folded


@dataclass(frozen=True)
class Scored:
    """One item's label: the gold one, and what each system under comparison answered."""

    language: str
    gold: str
    answers: dict[str, str | None]
    """``step`` (what the step decided), ``vote``/``model`` (its two parts), and baselines."""


def accuracy(pairs: Sequence[tuple[str, str | None]]) -> float:
    return round(sum(1 for gold, got in pairs if gold == got) / len(pairs), 4) if pairs else 0.0


def macro_f1(pairs: Sequence[tuple[str, str | None]], labels: Sequence[str]) -> float:
    """Mean F1 over ``labels`` that occur in the gold or the answers."""
    scores = []
    for label in labels:
        tp = sum(1 for gold, got in pairs if gold == label and got == label)
        fp = sum(1 for gold, got in pairs if gold != label and got == label)
        fn = sum(1 for gold, got in pairs if gold == label and got != label)
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return round(sum(scores) / len(scores), 4) if scores else 0.0


def per_class(pairs: Sequence[tuple[str, str | None]], labels: Sequence[str]) -> dict[str, Any]:
    table = {}
    for label in labels:
        tp = sum(1 for gold, got in pairs if gold == label and got == label)
        fp = sum(1 for gold, got in pairs if gold != label and got == label)
        fn = sum(1 for gold, got in pairs if gold == label and got != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[label] = {
            "support": tp + fn,
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
        }
    return table


def confusion(pairs: Sequence[tuple[str, str | None]], labels: Sequence[str]) -> list[list[int]]:
    """Rows: the gold label; columns: the answer (``labels`` order; a missing answer counts in
    no column)."""
    index = {label: n for n, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for gold, got in pairs:
        if gold in index and got in index:
            matrix[index[gold]][index[got]] += 1
    return matrix


def classification(scored: Sequence[Scored], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy and macro-F1 of every system, overall and per language; the step's per-class
    figures and confusion matrix; the languages' gap."""
    systems = sorted({name for item in scored for name in item.answers})
    languages = sorted({item.language for item in scored})

    def pairs(system: str, language: str | None = None) -> list[tuple[str, str | None]]:
        return [
            (item.gold, item.answers.get(system))
            for item in scored
            if language is None or item.language == language
        ]

    figures: dict[str, Any] = {"items": len(scored), "labels": list(labels), "systems": {}}
    for system in systems:
        by_language = {
            language: {
                "items": len(pairs(system, language)),
                "accuracy": accuracy(pairs(system, language)),
                "macro_f1": macro_f1(pairs(system, language), labels),
            }
            for language in languages
        }
        figures["systems"][system] = {
            "accuracy": accuracy(pairs(system)),
            "macro_f1": macro_f1(pairs(system), labels),
            "languages": by_language,
        }
    step = figures["systems"].get("step", {})
    shares = [row["accuracy"] for row in step.get("languages", {}).values()]
    figures["language_gap"] = round(max(shares) - min(shares), 4) if shares else 0.0
    figures["per_class"] = per_class(pairs("step"), labels)
    figures["confusion"] = confusion(pairs("step"), labels)
    return figures


_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


def same_value(gold: Any, got: Any) -> bool:
    """Equal once case, accents, Arabic letter variants, punctuation and spacing are set
    aside (dates are compared as the ISO strings they are)."""
    if gold is None or got is None:
        return gold is got
    fold = folded(str(gold))[0], folded(str(got))[0]
    return " ".join(_PUNCTUATION.sub(" ", fold[0]).split()) == " ".join(
        _PUNCTUATION.sub(" ", fold[1]).split()
    )


@dataclass(frozen=True)
class Extracted:
    language: str
    gold: dict[str, Any]
    got: dict[str, Any]


def extraction(items: Sequence[Extracted], fields: Sequence[str]) -> dict[str, Any]:
    """Precision and recall per field and per language; invented values (a value where the
    gold is null); wrong values (another value than the gold's)."""

    def count(subset: Iterable[Extracted], field: str) -> Counter[str]:
        tally: Counter[str] = Counter()
        for item in subset:
            gold, got = item.gold.get(field), item.got.get(field)
            if got is not None and gold is not None and same_value(gold, got):
                tally["correct"] += 1
            elif got is not None and gold is None:
                tally["invented"] += 1
            elif got is not None:
                tally["wrong"] += 1
            if gold is not None:
                tally["stated"] += 1
            if got is not None:
                tally["given"] += 1
        return tally

    def rates(tally: Counter[str]) -> dict[str, Any]:
        return {
            "stated": tally["stated"],
            "given": tally["given"],
            "correct": tally["correct"],
            "invented": tally["invented"],
            "wrong": tally["wrong"],
            "precision": round(tally["correct"] / tally["given"], 4) if tally["given"] else 1.0,
            "recall": round(tally["correct"] / tally["stated"], 4) if tally["stated"] else 1.0,
        }

    languages = sorted({item.language for item in items})
    per_field = {field: rates(count(items, field)) for field in fields}
    overall: Counter[str] = Counter()
    for field in fields:
        overall.update(count(items, field))
    per_language: dict[str, Any] = {}
    for language in languages:
        subset = [item for item in items if item.language == language]
        tally: Counter[str] = Counter()
        for field in fields:
            tally.update(count(subset, field))
        per_language[language] = {"items": len(subset), **rates(tally)}
    return {
        "items": len(items),
        "fields": per_field,
        "overall": rates(overall),
        "languages": per_language,
        "invented": overall["invented"],
    }


def cost(
    seconds: Sequence[float], prompt: Sequence[int], completion: Sequence[int]
) -> dict[str, Any]:
    """Seconds and tokens per item: median, 90th percentile, mean."""

    def spread(values: Sequence[float]) -> dict[str, float]:
        if not values:
            return {"p50": 0.0, "p90": 0.0, "mean": 0.0}
        ordered = sorted(values)
        return {
            "p50": round(statistics.median(ordered), 3),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
            "mean": round(statistics.fmean(ordered), 3),
        }

    return {
        "seconds": spread(seconds),
        "prompt_tokens": spread([float(v) for v in prompt]),
        "completion_tokens": spread([float(v) for v in completion]),
    }


def group_by(values: Iterable[tuple[str, float]]) -> dict[str, list[float]]:
    grouped: dict[str, list[float]] = defaultdict(list)
    for key, value in values:
        grouped[key].append(value)
    return dict(grouped)
