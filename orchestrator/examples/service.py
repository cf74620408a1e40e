"""The example banks: seeded from ``seeds/examples/<procedure>/<step>.jsonl``, kept in the
database, searched by the engine for each case of a step that declares a bank.

Nodes never touch the database: the engine sends the nearest examples inside the step request
(:attr:`agents.steps.StepContext.examples`). An index is built once per bank and rebuilt when
the bank changes (its row count or newest id moves).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from agents.language import WRITTEN_LANGUAGES
from agents.retrieval import Example, LexicalIndex
from orchestrator.examples.models import StepExample

SEED_SOURCE = "seed"


class ExampleBankError(ValueError):
    """A bank file that cannot be loaded: the message names the file and line."""


@dataclass(frozen=True)
class SeedLine:
    label: str
    language: str
    text: str


def read_bank_file(path: Path, labels: Sequence[str]) -> list[SeedLine]:
    """The lines of one bank file, each checked: a label among ``labels``, a known language,
    a text; a bad line is refused with its number."""
    lines = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ExampleBankError(f"{where}: not JSON ({exc.msg})") from exc
        if not isinstance(item, dict):
            raise ExampleBankError(f"{where}: not a JSON object")
        label, language, text = item.get("label"), item.get("language"), item.get("text")
        if label not in labels:
            raise ExampleBankError(f"{where}: label {label!r} is not one of {', '.join(labels)}")
        if language not in WRITTEN_LANGUAGES:
            known = ", ".join(WRITTEN_LANGUAGES)
            raise ExampleBankError(f"{where}: language {language!r} is not one of {known}")
        if not isinstance(text, str) or not text.strip():
            raise ExampleBankError(f"{where}: the text is empty")
        lines.append(SeedLine(str(label), str(language), text.strip()))
    return lines


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def add_examples(
    session: Session, procedure: str, step: str, lines: Sequence[SeedLine], source: str
) -> int:
    """Add the lines the bank does not hold yet; return how many were added (no commit)."""
    held = set(
        session.exec(
            select(StepExample.text_sha256, StepExample.label).where(
                StepExample.procedure_name == procedure, StepExample.step_name == step
            )
        ).all()
    )
    added = 0
    for line in lines:
        key = (text_sha256(line.text), line.label)
        if key in held:
            continue
        held.add(key)
        session.add(
            StepExample(
                procedure_name=procedure,
                step_name=step,
                label=line.label,
                language=line.language,
                text=line.text,
                text_sha256=key[0],
                source=source,
            )
        )
        added += 1
    session.flush()
    return added


def seed_directory(
    session: Session, directory: Path, banks: dict[tuple[str, str], list[str]]
) -> int:
    """Load ``directory/<procedure>/<step>.jsonl`` for each declared bank (``banks`` maps a
    procedure and step to its labels); return the examples added (no commit)."""
    added = 0
    for (procedure, step), labels in sorted(banks.items()):
        path = directory / procedure / f"{step}.jsonl"
        if path.is_file():
            added += add_examples(
                session, procedure, step, read_bank_file(path, labels), SEED_SOURCE
            )
    return added


def enabled_examples(session: Session, procedure: str, step: str) -> list[Example]:
    rows = session.exec(
        select(StepExample)
        .where(
            StepExample.procedure_name == procedure,
            StepExample.step_name == step,
            col(StepExample.enabled).is_(True),
        )
        .order_by(col(StepExample.id))
    ).all()
    return [Example(row.text, row.label, row.language, row.id) for row in rows]


_indexes: dict[tuple[str, str], tuple[tuple[int, int], LexicalIndex]] = {}
_lock = threading.Lock()


def bank_index(session: Session, procedure: str, step: str) -> tuple[LexicalIndex, tuple[int, int]]:
    """The bank's index and its version (row count, newest id), rebuilt when either moves."""
    count, newest = session.exec(
        select(func.count(), func.max(StepExample.id)).where(
            StepExample.procedure_name == procedure,
            StepExample.step_name == step,
            col(StepExample.enabled).is_(True),
        )
    ).one()
    version = (int(count or 0), int(newest or 0))
    key = (procedure, step)
    with _lock:
        cached = _indexes.get(key)
        if cached is not None and cached[0] == version:
            return cached[1], version
    index = LexicalIndex(enabled_examples(session, procedure, step))
    with _lock:
        _indexes[key] = (version, index)
    return index, version


def nearest(
    session: Session, procedure: str, step: str, text: str, language: str, k: int
) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """The ``k`` nearest examples as the step request carries them, and the bank's version."""
    index, version = bank_index(session, procedure, step)
    return as_payload(index, text, language, k), version


def label_scores(session: Session, procedure: str, step: str, text: str) -> dict[str, float]:
    """Each label's similarity to all of its enabled examples (the best label 1.0)."""
    index, _ = bank_index(session, procedure, step)
    return index.label_scores(text)


def as_payload(index: LexicalIndex, text: str, language: str, k: int) -> list[dict[str, Any]]:
    return [
        {
            "id": n.example.id,
            "text": n.example.text,
            "label": n.example.label,
            "language": n.example.language,
            "score": n.score,
        }
        for n in index.search(text, k, language)
    ]


def declared_banks(definitions: Sequence[Any]) -> dict[tuple[str, str], list[str]]:
    """Each ``(procedure, step)`` that declares an example bank, with the labels its prompt's
    schema allows for the bank's field."""
    from agents.prompts import load_prompt
    from agents.steps import label_choices
    from orchestrator.procedures.schemas import LlmStep

    banks: dict[tuple[str, str], list[str]] = {}
    for definition in definitions:
        for step in definition.steps:
            if isinstance(step, LlmStep) and step.examples is not None:
                schema = load_prompt(step.prompt, step.prompt_version).schema
                banks[(definition.name, step.name)] = label_choices(schema, step.examples.field)
    return banks
