"""The dev sets load, are split as documented, and a bad line says where it is."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from orchestrator.evaluation.dataset import DatasetError, load
from orchestrator.evaluation.metrics import Extracted, Scored, classification, extraction
from workers.settings import SEEDS_DIR

EVAL = SEEDS_DIR / "eval"


def test_the_triage_dev_set_covers_every_language_and_department_on_both_splits() -> None:
    for split in ("tune", "report"):
        items = load(EVAL / "triage", split).items
        languages = Counter(item.language for item in items)
        assert set(languages) == {"fr", "ar", "en", "ary", "ary-Latn"}
        labels = Counter(item.expected["classify"]["department"] for item in items)
        assert len(labels) == 8
    assert len(load(EVAL / "triage").items) >= 240
    assert all(
        count >= 40 for count in Counter(i.language for i in load(EVAL / "triage").items).values()
    )


def test_the_birth_certificate_set_states_facts_and_leaves_some_out() -> None:
    items = load(EVAL / "birth-certificate.jsonl").items
    assert len(items) >= 60
    values = [value for item in items for value in item.expected["extract"].values()]
    assert 0.2 < sum(value is None for value in values) / len(values) < 0.5
    for item in items:  # gold text values are copied from the request
        for field, value in item.expected["extract"].items():
            if value is not None and field != "date_of_birth":
                assert value in item.text, (item.id, field)


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    good = {"id": "a", "split": "tune", "procedure": "p", "steps": ["s"], "language": "fr",
            "text": "t", "expected": {"s": {"label": "x"}}}  # fmt: skip
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "b", "language": "de"}))
    with pytest.raises(DatasetError, match=rf"{path.name}:2: language"):
        load(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good))
    with pytest.raises(DatasetError, match="appears twice"):
        load(path)


def test_metrics_count_what_a_supervisor_would() -> None:
    scored = [
        Scored("fr", "health", {"step": "health", "lexical_1nn": "other"}),
        Scored("fr", "other", {"step": "other", "lexical_1nn": "other"}),
        Scored("ar", "health", {"step": "taxation", "lexical_1nn": "health"}),
    ]
    figures = classification(scored, ["health", "other", "taxation"])
    assert figures["systems"]["step"]["accuracy"] == round(2 / 3, 4)
    assert figures["systems"]["step"]["languages"]["ar"]["accuracy"] == 0
    assert figures["language_gap"] == 1.0
    assert figures["confusion"][0] == [1, 0, 1]
    extracted = extraction(
        [
            Extracted("fr", {"a": "Fès", "b": None}, {"a": "fes", "b": "Paris"}),
            Extracted("ar", {"a": None, "b": "x"}, {"a": None, "b": None}),
        ],
        ["a", "b"],
    )
    assert extracted["invented"] == 1
    assert extracted["fields"]["a"]["precision"] == 1.0 and extracted["fields"]["b"]["recall"] == 0
