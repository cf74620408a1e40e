"""The audit log's wire format: entries, their hashes, and the export and proof files.

Everything here is pure: no database, no settings. The offline verifier and the database side
both build on it, so an entry hashes the same way wherever it is handled (docs/audit-format.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import rfc8785

ZERO_HASH = "0" * 64
"""The ``prev_hash`` of entry 1: there is no entry before it."""

ENTRY_FIELDS: tuple[str, ...] = (
    "seq",
    "ts",
    "kind",
    "actor",
    "case_id",
    "model",
    "node",
    "data",
    "prev_hash",
)
"""The members an entry's hash covers, and the only ones it has besides ``entry_hash``."""

EXPORTED_FIELDS: tuple[str, ...] = (*ENTRY_FIELDS, "entry_hash")
"""The members of one line of entries.jsonl (and of a proof's entry), in the order written."""

EXPORT_FORMAT = "idara-audit-export/1"
PROOF_FORMAT = "idara-audit-proof/1"

META_FILE = "export.json"
ENTRIES_FILE = "entries.jsonl"
LEAVES_FILE = "leaves.txt"
CHECKPOINTS_FILE = "checkpoints.jsonl"
KEYS_FILE = "keys.txt"


def format_ts(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC: one spelling per instant, so hashes are stable.

    A naive datetime is taken as UTC (the database stores naive UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def canonical_entry(entry: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JCS) bytes of exactly the hashed members, whatever else ``entry`` holds.

    Raises KeyError with the name of a missing member."""
    hashed: dict[str, Any] = {}
    for name in ENTRY_FIELDS:
        if name not in entry:
            raise KeyError(name)
        hashed[name] = entry[name]
    return rfc8785.dumps(hashed)


def entry_hash(entry: Mapping[str, Any]) -> str:
    """Lowercase hex SHA-256 of the entry's canonical bytes: the chain link and Merkle leaf."""
    return hashlib.sha256(canonical_entry(entry)).hexdigest()


def json_line(value: Any) -> str:
    """Compact one-line JSON (UTF-8 kept, NaN refused): the spelling of every JSONL line."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def write_export(
    out_dir: Path,
    meta: Mapping[str, Any],
    entries: Iterable[Mapping[str, Any]],
    leaves: Iterable[str],
    checkpoints: Iterable[Mapping[str, Any]],
    keys: Iterable[str],
) -> None:
    """Write an export directory; ``out_dir`` must be absent or empty.

    The iterables are consumed in this order: entries, leaves, checkpoints, keys, so a caller
    may fill the later ones while the entries stream. ``export.json`` is written last: a
    directory without it is an export that did not finish. Entries are written as given (the
    stored ``entry_hash`` included, never recomputed: hiding a changed entry is not the
    writer's business)."""
    _prepare_empty_dir(out_dir)
    count, first_seq, last_seq = _write_entries(out_dir / ENTRIES_FILE, entries)
    leaf_count = _write_lines(out_dir / LEAVES_FILE, leaves)
    _write_lines(
        out_dir / CHECKPOINTS_FILE,
        (json_line({"note": cp["note"], "created_at": cp["created_at"]}) for cp in checkpoints),
    )
    _write_lines(out_dir / KEYS_FILE, keys)
    document = _export_meta(meta, count, first_seq, last_seq, leaf_count)
    (out_dir / META_FILE).write_text(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def _prepare_empty_dir(out_dir: Path) -> None:
    """Refuse to mix a new export with files already there."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ValueError(f"{out_dir} exists and is not a directory")
        if any(out_dir.iterdir()):
            raise ValueError(f"{out_dir} is not empty; an export needs an empty directory")
    out_dir.mkdir(parents=True, exist_ok=True)


def _write_entries(
    path: Path, entries: Iterable[Mapping[str, Any]]
) -> tuple[int, int | None, int | None]:
    """Stream the entries one line each; returns their count and first and last seq."""
    count = 0
    first_seq: int | None = None
    last_seq: int | None = None
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for entry in entries:
            out.write(json_line({name: entry[name] for name in EXPORTED_FIELDS}))
            out.write("\n")
            count += 1
            last_seq = entry["seq"]
            if first_seq is None:
                first_seq = last_seq
    return count, first_seq, last_seq


def _write_lines(path: Path, lines: Iterable[str]) -> int:
    """One item per line; returns how many."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            _write_line(out, line)
            count += 1
    return count


def _write_line(out: TextIO, line: str) -> None:
    """A line of a line-based file may not hold a newline of its own."""
    if "\n" in line:
        raise ValueError(f"a line may not contain a newline: {line!r}")
    out.write(line)
    out.write("\n")


def _export_meta(
    meta: Mapping[str, Any], count: int, first_seq: int | None, last_seq: int | None, leaves: int
) -> dict[str, Any]:
    """export.json's content; the range is checked against what was actually written."""
    for name, written in (("first_seq", first_seq), ("last_seq", last_seq)):
        claimed = meta.get(name, written)
        if claimed != written:
            raise ValueError(f"meta says {name} {claimed} but the entries written give {written}")
    return {
        "format": EXPORT_FORMAT,
        "origin": meta["origin"],
        "first_seq": first_seq,
        "last_seq": last_seq,
        "since": meta.get("since"),
        "until": meta.get("until"),
        "exported_at": meta["exported_at"],
        "entries": count,
        "leaves": leaves,
    }


def write_proof(
    path: Path,
    case_id: str,
    checkpoint_note: str,
    keys: Iterable[str],
    proofs: list[dict[str, Any]],
) -> None:
    """Write a proof file: one signed checkpoint and an inclusion proof per entry of the case."""
    document = {
        "format": PROOF_FORMAT,
        "case_id": case_id,
        "checkpoint": checkpoint_note,
        "keys": list(keys),
        "proofs": [_proof_item(proof) for proof in proofs],
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _proof_item(proof: Mapping[str, Any]) -> dict[str, Any]:
    """A proof with its entry's members in the documented order and nothing more."""
    entry = proof["entry"]
    return {
        "entry": {name: entry[name] for name in EXPORTED_FIELDS},
        "leaf_index": proof["leaf_index"],
        "tree_size": proof["tree_size"],
        "path": [step.hex() if isinstance(step, bytes) else step for step in proof["path"]],
    }
