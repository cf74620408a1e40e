"""The example bank: seeded once from seeds/examples, kept in the database, searched by the
engine for each case, and refused line by line when a file is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from orchestrator.db import make_engine, migrate
from orchestrator.examples.models import StepExample
from orchestrator.examples.service import (
    ExampleBankError,
    declared_banks,
    nearest,
    read_bank_file,
    seed_directory,
)
from orchestrator.procedures.service import load_definition
from workers.settings import SEEDS_DIR

TRIAGE = load_definition(SEEDS_DIR / "procedures" / "citizen-request-triage.yaml")
LABELS = declared_banks([TRIAGE])[("citizen-request-triage", "classify")]


def test_the_seed_procedure_declares_its_bank_with_the_prompts_labels() -> None:
    assert "civil_status" in LABELS and "other" in LABELS and len(LABELS) == 8


def test_seeding_twice_adds_nothing_and_the_engine_finds_the_nearest(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    banks = declared_banks([TRIAGE])
    with Session(engine) as session:
        first = seed_directory(session, SEEDS_DIR / "examples", banks)
        session.commit()
        again = seed_directory(session, SEEDS_DIR / "examples", banks)
        session.commit()
        assert first >= 600 and again == 0
        found, version = nearest(
            session,
            "citizen-request-triage",
            "classify",
            "bghit nbdl la carte grise",
            "ary-Latn",
            5,
        )
        assert version[0] == first
        assert found[0]["label"] == "transport" and len(found) == 5
        assert found[0]["score"] >= found[-1]["score"]
        row = session.exec(select(StepExample)).first()
        assert row is not None and row.source == "seed"
        row.enabled = False  # a disabled example leaves the index at the next search
        session.add(row)
        session.commit()
        _, newer = nearest(session, "citizen-request-triage", "classify", "x", "fr", 1)
        assert newer[0] == first - 1
    engine.dispose()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        (json.dumps({"label": "weather", "language": "fr", "text": "x"}), "label 'weather'"),
        (json.dumps({"label": "health", "language": "de", "text": "x"}), "language 'de'"),
        (json.dumps({"label": "health", "language": "fr", "text": " "}), "text is empty"),
    ],
)
def test_a_bad_bank_line_is_refused_with_its_place(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "classify.jsonl"
    good = json.dumps({"label": "health", "language": "fr", "text": "vaccin"})
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    with pytest.raises(ExampleBankError, match=problem) as caught:
        read_bank_file(path, LABELS)
    assert f"{path}:2" in str(caught.value)
