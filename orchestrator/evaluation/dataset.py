"""Labelled datasets for ``idara eval`` (JSONL; the format is in docs/evaluation.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.language import WRITTEN_LANGUAGES

Language = Literal["fr", "ar", "en", "ary", "ary-Latn"]
assert set(Language.__args__) == set(WRITTEN_LANGUAGES)  # type: ignore[attr-defined]


class DatasetError(ValueError):
    """A dataset that cannot be used: the message names the file and line."""


class Item(BaseModel):
    """One request and what the steps under test should make of it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100)
    split: Literal["tune", "report"]
    procedure: str
    steps: list[str] = Field(min_length=1)
    language: Language
    reply_language: Literal["fr", "ar", "en"] | None = None
    text: str = Field(min_length=1)
    applicant: dict[str, Any] = Field(default_factory=dict)
    expected: dict[str, dict[str, Any]]
    """Per step: a label (``{"department": "health"}``) or gold fields (``null`` where the
    request states nothing)."""


class Dataset(BaseModel):
    items: list[Item]
    sha256: str
    files: list[str]


def dataset_files(path: Path) -> list[Path]:
    """A ``.jsonl`` file, or every ``.jsonl`` file under a folder, in name order."""
    if path.is_dir():
        files = sorted(path.rglob("*.jsonl"))
        if not files:
            raise DatasetError(f"no .jsonl file under {path}")
        return files
    if not path.is_file():
        raise DatasetError(f"no dataset at {path} (a .jsonl file or a folder of them)")
    return [path]


def load(path: Path, split: str | None = None, procedure: str | None = None) -> Dataset:
    """The dataset at ``path`` (its sha256 covers every file, in order), with only the items
    of ``split`` and ``procedure`` when given."""
    digest = hashlib.sha256()
    items: list[Item] = []
    seen: set[str] = set()
    files = dataset_files(path)
    for file in files:
        data = file.read_bytes()
        digest.update(data)
        for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            item = _parse(line, f"{file}:{number}")
            if item.id in seen:
                raise DatasetError(f"{file}:{number}: id {item.id!r} appears twice")
            seen.add(item.id)
            items.append(item)
    chosen = [
        item
        for item in items
        if (split in (None, "all") or item.split == split)
        and (procedure is None or item.procedure == procedure)
    ]
    return Dataset(items=chosen, sha256=digest.hexdigest(), files=[str(f) for f in files])


def _parse(line: str, where: str) -> Item:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: not JSON ({exc.msg})") from exc
    try:
        return Item.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'item'}: {error['msg']}"
            for error in exc.errors()
        )
        raise DatasetError(f"{where}: {problems}") from exc


def first_of_each_language(items: list[Item], count: int) -> list[Item]:
    """``count`` items taken in turn from each language, in file order: a short run (the CI
    gate's) still covers every language."""
    queues: dict[str, list[Item]] = {}
    for item in items:
        queues.setdefault(item.language, []).append(item)
    chosen: list[Item] = []
    while len(chosen) < count and any(queues.values()):
        for queue in queues.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen
