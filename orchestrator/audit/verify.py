"""Offline verification of audit exports and proof files.

Needs nothing but the files and, ideally, pinned keys: no database, no settings, no network.
It therefore imports only the pure format modules, so an auditor can run it (or read it next to
docs/audit-format.md) on a machine that has never seen an idara installation.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agents.signed_note import (
    Checkpoint,
    NoteError,
    VerifierKey,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    split_note,
)
from orchestrator.audit.format import (
    CHECKPOINTS_FILE,
    ENTRIES_FILE,
    EXPORT_FORMAT,
    EXPORTED_FIELDS,
    KEYS_FILE,
    LEAVES_FILE,
    META_FILE,
    PROOF_FORMAT,
    ZERO_HASH,
    entry_hash,
)
from orchestrator.audit.merkle import ProofError, root_from_inclusion_proof, roots_at

_HEX_HASH = re.compile(r"[0-9a-f]{64}")
_LEAVES_TEXT = re.compile(r"(?:[0-9a-f]{64}\n)*")
_TS = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")
_OPTIONAL_TEXT_FIELDS = ("case_id", "model", "node")


@dataclass
class VerifyReport:
    """What ``idara audit verify`` prints: ``ok`` only when ``problems`` is empty.

    ``keys_pinned`` tells whether the trusted keys came from the caller (``--key``) or from
    the checked files themselves, which proves integrity but not who signed."""

    kind: Literal["export", "proof"]
    ok: bool = False
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    keys_used: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    keys_pinned: bool = False


class _Rejected(Exception):
    """One finding that ends the check it was raised in; ``seq`` is the entry it concerns."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.seq = seq


def verify_path(path: Path, pinned_keys: Sequence[str] = ()) -> VerifyReport:
    """Verify an export directory or a proof file; only ``pinned_keys`` are trusted if given."""
    started = time.perf_counter()
    report = VerifyReport(kind=_kind_of(path), keys_pinned=bool(pinned_keys))
    pinned = _parse_keys(pinned_keys, report, lambda n: f"pinned key {n} is malformed")
    if not report.problems:
        try:
            _verify_existing(path, pinned, report)
        except (OSError, UnicodeDecodeError) as error:
            report.problems.append(f"cannot read {path}: {error}")
    report.ok = not report.problems
    report.elapsed_s = time.perf_counter() - started
    return report


def _kind_of(path: Path) -> Literal["export", "proof"]:
    """A directory is an export, a file a proof; a missing path is guessed from its name."""
    if path.is_dir():
        return "export"
    if path.exists() or path.suffix:
        return "proof"
    return "export"


def _parse_keys(
    texts: Sequence[str], report: VerifyReport, describe: Callable[[int], str]
) -> list[VerifierKey]:
    """The well-formed keys among ``texts``; each malformed one is a problem, named by
    ``describe(its number)``."""
    keys = []
    for number, text in enumerate(texts, 1):
        try:
            keys.append(parse_verifier_key(text))
        except NoteError as error:
            report.problems.append(f"{describe(number)}: {error}")
    return keys


def _verify_existing(path: Path, pinned: list[VerifierKey], report: VerifyReport) -> None:
    if not path.exists():
        report.problems.append(f"{path} does not exist")
    elif report.kind == "export":
        _verify_export(path, pinned, report)
    else:
        _verify_proof(path, pinned, report)


# --- reading ------------------------------------------------------------------------------


def _no_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON objects with a member twice are refused: readers disagree on which one counts."""
    result = dict(pairs)
    if len(result) != len(pairs):
        names = [name for name, _ in pairs]
        duplicate = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"member {duplicate!r} appears twice")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _loads(text: str) -> Any:
    """Strict JSON: no NaN/Infinity, no duplicate members."""
    return json.loads(text, object_pairs_hook=_no_duplicate_members, parse_constant=_no_constant)


def _read_json_file(path: Path, what: str) -> Any:
    """The parsed file, or _Rejected saying plainly what is wrong with it."""
    if not path.is_file():
        raise _Rejected(f"{what} is missing ({path})")
    try:
        return _loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as error:
        raise _Rejected(f"{what} is not valid JSON: {error}") from None


def _lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file without their newline, read lazily."""
    with path.open(encoding="utf-8", newline="\n") as source:
        try:
            for line in source:
                yield line[:-1] if line.endswith("\n") else line
        except UnicodeDecodeError as error:
            raise OSError(f"{path.name} is not UTF-8 text: {error}") from None


# --- entries (shared by exports and proofs) ---------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry_label(entry: Mapping[str, Any], fallback: str) -> tuple[str, int | None]:
    seq = entry.get("seq")
    if _is_int(seq):
        return f"entry {seq}", seq
    return fallback, None


def _check_entry_shape(entry: Any, fallback: str) -> dict[str, Any]:
    """The entry as a dict with exactly the exported members, each of the documented type."""
    if not isinstance(entry, dict):
        raise _Rejected(f"{fallback} is not a JSON object")
    label, seq = _entry_label(entry, fallback)
    unexpected = [name for name in entry if name not in EXPORTED_FIELDS]
    if unexpected:
        names = ", ".join(repr(name) for name in unexpected)
        raise _Rejected(f"{label}: unexpected member(s) {names}", seq)
    missing = [name for name in EXPORTED_FIELDS if name not in entry]
    if missing:
        names = ", ".join(repr(name) for name in missing)
        raise _Rejected(f"{label}: missing member(s) {names}", seq)
    problem = _member_type_problem(entry)
    if problem:
        raise _Rejected(f"{label}: {problem}", seq)
    return entry


def _member_type_problem(entry: Mapping[str, Any]) -> str | None:
    """The first member whose type or spelling differs from docs/audit-format.md, if any."""
    if not _is_int(entry["seq"]) or entry["seq"] < 1:
        return "seq is not an integer >= 1"
    if not isinstance(entry["ts"], str) or not _TS.fullmatch(entry["ts"]):
        return "ts is not a UTC time written YYYY-MM-DDTHH:MM:SS.ffffffZ"
    for name in ("kind", "actor"):
        if not isinstance(entry[name], str):
            return f"{name} is not a string"
    for name in _OPTIONAL_TEXT_FIELDS:
        if entry[name] is not None and not isinstance(entry[name], str):
            return f"{name} is neither a string nor null"
    if not isinstance(entry["data"], dict):
        return "data is not a JSON object"
    for name in ("prev_hash", "entry_hash"):
        if not isinstance(entry[name], str) or not _HEX_HASH.fullmatch(entry[name]):
            return f"{name} is not 64 lowercase hex characters"
    return None


def _recomputed_hash(entry: Mapping[str, Any], label: str, seq: int) -> str:
    """The entry's hash from its content; _Rejected if it differs from the stored one."""
    try:
        recomputed = entry_hash(entry)
    except (ValueError, RecursionError) as error:
        raise _Rejected(f"{label}: cannot be canonicalised (RFC 8785): {error}", seq) from None
    if recomputed != entry["entry_hash"]:
        raise _Rejected(
            f"{label}: its content does not match its hash (changed after it was written)", seq
        )
    return recomputed


# --- exports ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Meta:
    origin: str
    first_seq: int | None
    last_seq: int | None
    entries: int
    leaves: int


def _read_meta(directory: Path) -> _Meta:
    document = _read_json_file(directory / META_FILE, META_FILE)
    if not isinstance(document, dict):
        raise _Rejected(f"{META_FILE} is not a JSON object")
    if document.get("format") != EXPORT_FORMAT:
        raise _Rejected(f"{META_FILE}: format is {document.get('format')!r}, not {EXPORT_FORMAT}")
    origin = document.get("origin")
    if not isinstance(origin, str) or not origin:
        raise _Rejected(f"{META_FILE}: origin is not a non-empty string")
    for name in ("entries", "leaves"):
        if not _is_int(document.get(name)) or document[name] < 0:
            raise _Rejected(f"{META_FILE}: {name} is not a count")
    first_seq, last_seq = document.get("first_seq"), document.get("last_seq")
    return _Meta(
        origin, *_checked_range(first_seq, last_seq), document["entries"], document["leaves"]
    )


def _checked_range(first_seq: Any, last_seq: Any) -> tuple[int | None, int | None]:
    if first_seq is None and last_seq is None:
        return None, None
    if not (_is_int(first_seq) and _is_int(last_seq) and 1 <= first_seq <= last_seq):
        raise _Rejected(
            f"{META_FILE}: first_seq and last_seq are not both null or a range "
            f"1 <= first_seq <= last_seq (they are {first_seq!r} and {last_seq!r})"
        )
    return first_seq, last_seq


def _read_leaves(path: Path, problems: list[str]) -> list[str]:
    """The hex leaves, up to the first malformed line (which is reported)."""
    if not path.is_file():
        problems.append(f"{LEAVES_FILE} is missing ({path})")
        return []
    text = path.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text += "\n"
    lines = text.split("\n")[:-1]
    if _LEAVES_TEXT.fullmatch(text):
        return lines
    for number, line in enumerate(lines, 1):
        if not _HEX_HASH.fullmatch(line):
            problems.append(f"{LEAVES_FILE} line {number} is not 64 lowercase hex characters")
            return lines[: number - 1]
    return lines


def _read_keys(path: Path, problems: list[str]) -> list[VerifierKey]:
    if not path.is_file():
        problems.append(f"{KEYS_FILE} is missing and no key was pinned: nothing to trust")
        return []
    keys = []
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            keys.append(parse_verifier_key(line))
        except NoteError as error:
            problems.append(f"{KEYS_FILE} line {number}: {error}")
    return keys


class _EntryChain:
    """Checks entries.jsonl line by line: members, sequence, hash, link, leaf, in that order."""

    def __init__(self, meta: _Meta, leaves: list[str]) -> None:
        self.meta = meta
        self.leaves = leaves
        self.last_seq: int | None = None
        self.last_hash: str | None = None

    def check(self, number: int, line: str) -> None:
        expected = self.meta.first_seq if self.last_seq is None else self.last_seq + 1
        try:
            parsed = _loads(line)
        except (ValueError, RecursionError) as error:
            message = f"{ENTRIES_FILE} line {number} is not valid JSON: {error}"
            raise _Rejected(message, expected) from None
        try:
            entry = _check_entry_shape(parsed, f"{ENTRIES_FILE} line {number}")
        except _Rejected as rejected:
            rejected.seq = expected if rejected.seq is None else rejected.seq
            raise
        seq: int = entry["seq"]
        self._check_sequence(seq)
        recomputed = _recomputed_hash(entry, f"entry {seq}", seq)
        self._check_link(seq, entry["prev_hash"])
        self._check_leaf(seq, recomputed)
        self.last_seq, self.last_hash = seq, recomputed

    def _check_sequence(self, seq: int) -> None:
        previous = self.last_seq
        if previous is None:
            if self.meta.first_seq is None:
                raise _Rejected(f"{META_FILE} says the export is empty, but entry {seq} is in it")
            if seq != self.meta.first_seq:
                raise _Rejected(
                    f"the first entry is {seq}, but {META_FILE} says the export starts at "
                    f"entry {self.meta.first_seq}",
                    self.meta.first_seq,
                )
            return
        if seq > previous + 1:
            raise _Rejected(
                f"{_missing(previous + 1, seq - 1)} (entry {seq} follows entry {previous})",
                previous + 1,
            )
        if seq == previous:
            raise _Rejected(f"entry {seq} appears twice", seq)
        if seq < previous:
            raise _Rejected(f"entry {seq} appears after entry {previous} (out of order)", seq)

    def _check_link(self, seq: int, prev_hash: str) -> None:
        if seq == 1:
            if prev_hash != ZERO_HASH:
                raise _Rejected("entry 1: does not start the chain (prev_hash is not 64 zeros)", 1)
            return
        expected = self.last_hash
        if expected is None:
            if len(self.leaves) < seq - 1:
                raise _Rejected(f"entry {seq}: {LEAVES_FILE} has no line {seq - 1} to link to", seq)
            expected = self.leaves[seq - 2]
        if prev_hash != expected:
            raise _Rejected(f"entry {seq}: does not link to entry {seq - 1}", seq)

    def _check_leaf(self, seq: int, recomputed: str) -> None:
        if len(self.leaves) < seq:
            raise _Rejected(f"entry {seq}: {LEAVES_FILE} has only {len(self.leaves)} lines", seq)
        if self.leaves[seq - 1] != recomputed:
            raise _Rejected(f"entry {seq}: its hash differs from line {seq} of {LEAVES_FILE}", seq)

    def check_end(self) -> None:
        """After the last line: the export ends where export.json says."""
        seen, claimed = self.last_seq, self.meta.last_seq
        if seen == claimed or claimed is None:
            return
        first_missing = self.meta.first_seq if seen is None else seen + 1
        if first_missing is not None and (seen is None or seen < claimed):
            raise _Rejected(
                f"{_missing(first_missing, claimed)} at the end ({META_FILE} says the export "
                f"ends at entry {claimed})",
                first_missing,
            )
        raise _Rejected(f"{META_FILE} says the export ends at entry {claimed}, not {seen}")


def _missing(first: int, last: int) -> str:
    if first == last:
        return f"entry {first} is missing"
    return f"entries {first} to {last} are missing"


def _check_entries(directory: Path, meta: _Meta, leaves: list[str], report: VerifyReport) -> None:
    """Every line is counted; checks stop at the first bad entry, which is reported first."""
    path = directory / ENTRIES_FILE
    if not path.is_file():
        report.problems.append(f"{ENTRIES_FILE} is missing ({path})")
        return
    chain = _EntryChain(meta, leaves)
    failed = False
    for number, line in enumerate(_lines(path), 1):
        report.entries = number
        if failed:
            continue
        try:
            chain.check(number, line)
        except _Rejected as rejected:
            failed = True
            _reject(report, rejected)
    if not failed:
        try:
            chain.check_end()
        except _Rejected as rejected:
            _reject(report, rejected)
    if report.entries != meta.entries:
        report.problems.append(
            f"{ENTRIES_FILE} has {report.entries} entries, but {META_FILE} says {meta.entries}"
        )


def _reject(report: VerifyReport, rejected: _Rejected) -> None:
    report.problems.append(rejected.message)
    if report.first_bad_seq is None:
        report.first_bad_seq = rejected.seq


@dataclass
class _SignedCheckpoint:
    label: str
    checkpoint: Checkpoint | None = None
    problem: str | None = None


def _checkpoint_label(note: str, number: int) -> str:
    """'checkpoint at tree size N' when the note can be read at all, else its line."""
    try:
        body, _ = split_note(note)
        return f"checkpoint at tree size {parse_checkpoint(body).size}"
    except NoteError:
        return f"checkpoint on line {number} of {CHECKPOINTS_FILE}"


def _open_checkpoint(
    line: str, number: int, origin: str, keys: Sequence[VerifierKey], used: set[str]
) -> _SignedCheckpoint:
    """Open one checkpoints.jsonl line with the trusted keys, without looking at leaves yet."""
    try:
        record = _loads(line)
    except (ValueError, RecursionError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("note"), str):
        where = f"{CHECKPOINTS_FILE} line {number}"
        return _SignedCheckpoint(where, problem=f"{where} is not a JSON object with a note")
    note: str = record["note"]
    label = _checkpoint_label(note, number)
    try:
        body, key = open_note(note, keys)
    except NoteError as error:
        return _SignedCheckpoint(label, problem=f"{label}: not signed by a trusted key: {error}")
    used.add(key.text)
    try:
        checkpoint = parse_checkpoint(body)
    except NoteError as error:
        return _SignedCheckpoint(label, problem=f"{label}: malformed checkpoint: {error}")
    if checkpoint.origin != origin:
        problem = f"{label}: its origin {checkpoint.origin!r} is not the export's ({origin!r})"
        return _SignedCheckpoint(label, problem=problem)
    return _SignedCheckpoint(label, checkpoint=checkpoint)


def _leaf_data(leaves: list[str]) -> Iterator[bytes]:
    raw = bytes.fromhex("".join(leaves))
    return (raw[start : start + 32] for start in range(0, len(raw), 32))


def _check_checkpoints(
    directory: Path, meta: _Meta, leaves: list[str], keys: list[VerifierKey], report: VerifyReport
) -> None:
    path = directory / CHECKPOINTS_FILE
    if not path.is_file():
        report.problems.append(f"{CHECKPOINTS_FILE} is missing ({path})")
        opened: list[_SignedCheckpoint] = []
    else:
        used: set[str] = set()
        opened = [
            _open_checkpoint(line, number, meta.origin, keys, used)
            for number, line in enumerate(_lines(path), 1)
            if line.strip()
        ]
        report.keys_used = sorted(used)
    report.checkpoints = len(opened)
    signed = [item.checkpoint for item in opened if item.checkpoint is not None]
    roots = roots_at(_leaf_data(leaves), (checkpoint.size for checkpoint in signed))
    for item in opened:
        problem = item.problem or _root_problem(item, roots, len(leaves))
        if problem:
            report.problems.append(problem)
    _check_coverage(meta, [checkpoint.size for checkpoint in signed], len(opened), report)


def _root_problem(item: _SignedCheckpoint, roots: dict[int, bytes], leaf_count: int) -> str | None:
    checkpoint = item.checkpoint
    assert checkpoint is not None
    if checkpoint.size > leaf_count:
        return f"{item.label}: {LEAVES_FILE} has only {leaf_count} leaves"
    if roots[checkpoint.size] != checkpoint.root:
        return (
            f"{item.label}: root does not match the entries; an entry at or before "
            f"{checkpoint.size} was altered after it was signed"
        )
    return None


def _check_coverage(meta: _Meta, signed_sizes: list[int], count: int, report: VerifyReport) -> None:
    """The last exported entry must lie under some signed checkpoint."""
    if count == 0:
        report.problems.append("no signed checkpoint covers the export")
        return
    covered = max(signed_sizes, default=0)
    if meta.last_seq is None or meta.first_seq is None or covered >= meta.last_seq:
        return
    first, last = max(covered + 1, meta.first_seq), meta.last_seq
    subject = f"entry {first} is" if first == last else f"entries {first} to {last} are"
    report.problems.append(f"{subject} not covered by any signed checkpoint")


def _verify_export(directory: Path, pinned: list[VerifierKey], report: VerifyReport) -> None:
    try:
        meta = _read_meta(directory)
    except _Rejected as rejected:
        report.problems.append(rejected.message)
        return
    file_problems: list[str] = []
    leaves = _read_leaves(directory / LEAVES_FILE, file_problems)
    if len(leaves) != meta.leaves and not file_problems:
        file_problems.append(
            f"{LEAVES_FILE} has {len(leaves)} lines, but {META_FILE} says {meta.leaves}"
        )
    keys = pinned or _read_keys(directory / KEYS_FILE, file_problems)
    _check_entries(directory, meta, leaves, report)
    report.problems.extend(file_problems)
    _check_checkpoints(directory, meta, leaves, keys, report)


# --- proofs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ProofFile:
    case_id: str
    checkpoint: str
    keys: list[str]
    proofs: list[Any]


def _read_proof_file(path: Path) -> _ProofFile:
    document = _read_json_file(path, f"the proof file {path.name}")
    if not isinstance(document, dict):
        raise _Rejected(f"{path.name} is not a JSON object")
    if document.get("format") != PROOF_FORMAT:
        raise _Rejected(f"{path.name}: format is {document.get('format')!r}, not {PROOF_FORMAT}")
    case_id, note = document.get("case_id"), document.get("checkpoint")
    keys, proofs = document.get("keys"), document.get("proofs")
    if not isinstance(case_id, str) or not isinstance(note, str):
        raise _Rejected(f"{path.name}: case_id and checkpoint must be strings")
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise _Rejected(f"{path.name}: keys must be a list of verifier key texts")
    if not isinstance(proofs, list):
        raise _Rejected(f"{path.name}: proofs must be a list")
    return _ProofFile(case_id, note, keys, proofs)


def _proof_path(proof: Mapping[str, Any], label: str, seq: int) -> list[bytes]:
    path = proof.get("path")
    if not isinstance(path, list) or not all(
        isinstance(step, str) and _HEX_HASH.fullmatch(step) for step in path
    ):
        raise _Rejected(f"{label}: its path is not a list of 64-character lowercase hex", seq)
    return [bytes.fromhex(step) for step in path]


def _check_proof(proof: Any, number: int, case_id: str, checkpoint: Checkpoint) -> None:
    """One inclusion proof: entry intact, in the case, and leading to the signed root."""
    if not isinstance(proof, dict):
        raise _Rejected(f"proof {number} is not a JSON object")
    entry = _check_entry_shape(proof.get("entry"), f"the entry of proof {number}")
    seq: int = entry["seq"]
    label = f"entry {seq}"
    recomputed = _recomputed_hash(entry, label, seq)
    index, size = proof.get("leaf_index"), proof.get("tree_size")
    if not _is_int(index) or index != seq - 1:
        raise _Rejected(f"{label}: leaf_index {index!r} is not its position {seq - 1}", seq)
    if not _is_int(size) or size != checkpoint.size:
        raise _Rejected(
            f"{label}: the proof is for tree size {size!r}, the checkpoint for {checkpoint.size}",
            seq,
        )
    try:
        reached = root_from_inclusion_proof(
            index, size, bytes.fromhex(recomputed), _proof_path(proof, label, seq)
        )
    except ProofError as error:
        raise _Rejected(f"{label}: {error}", seq) from None
    if reached != checkpoint.root:
        raise _Rejected(
            f"{label}: its inclusion proof does not lead to the checkpoint's root "
            "(the entry or the proof was altered)",
            seq,
        )
    if entry["case_id"] != case_id:
        raise _Rejected(f"{label} belongs to case {entry['case_id']!r}, not {case_id!r}", seq)


def _verify_proof(path: Path, pinned: list[VerifierKey], report: VerifyReport) -> None:
    try:
        proof_file = _read_proof_file(path)
    except _Rejected as rejected:
        report.problems.append(rejected.message)
        return
    keys = pinned or _parse_keys(proof_file.keys, report, lambda n: f"key {n} of the proof file")
    report.entries = len(proof_file.proofs)
    report.checkpoints = 1
    try:
        body, key = open_note(proof_file.checkpoint, keys)
    except NoteError as error:
        report.problems.append(f"the checkpoint is not signed by a trusted key: {error}")
        return
    report.keys_used = [key.text]
    try:
        checkpoint = parse_checkpoint(body)
    except NoteError as error:
        report.problems.append(f"the checkpoint is malformed: {error}")
        return
    if not proof_file.proofs:
        report.problems.append("the proof file holds no proofs")
    for number, proof in enumerate(proof_file.proofs, 1):
        try:
            _check_proof(proof, number, proof_file.case_id, checkpoint)
        except _Rejected as rejected:
            _reject(report, rejected)
