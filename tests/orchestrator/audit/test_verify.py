"""The export and proof formats, and the offline verifier catching every kind of tampering."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import rfc8785

from agents.signed_note import (
    SignerKey,
    checkpoint_body,
    generate_signer,
    sign_note,
    signer_from_seed,
)
from orchestrator.audit.format import (
    ENTRY_FIELDS,
    EXPORT_FORMAT,
    PROOF_FORMAT,
    ZERO_HASH,
    canonical_entry,
    entry_hash,
    format_ts,
    write_export,
    write_proof,
)
from orchestrator.audit.merkle import inclusion_proof, root
from orchestrator.audit.verify import VerifyReport, verify_path

ORIGIN = "audit.test.idara.local/audit"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOC = Path(__file__).resolve().parents[3] / "docs" / "audit-format.md"
CONTENT_CHANGED = "its content does not match its hash (changed after it was written)"


def chained(entries: list[dict[str, Any]], start: int = 0) -> list[dict[str, Any]]:
    """Set prev_hash and entry_hash from index ``start`` on, as an honest writer would."""
    for index in range(start, len(entries)):
        entry = entries[index]
        entry["prev_hash"] = entries[index - 1]["entry_hash"] if index else ZERO_HASH
        entry["entry_hash"] = entry_hash(entry)
    return entries


def make_entries(count: int = 30) -> list[dict[str, Any]]:
    entries = [
        {
            "seq": seq,
            "ts": format_ts(START + timedelta(seconds=seq, microseconds=seq)),
            "kind": "step.finished" if seq % 3 else "case.created",
            "actor": "node:gpu-1" if seq % 3 else "clerk.amina",
            "case_id": "case-A" if seq % 2 else "case-B",
            "model": "smollm2" if seq % 3 else None,
            "node": "gpu-1" if seq % 3 else None,
            "data": {"step": "classify", "tokens": seq * 7, "latency_ms": seq / 3, "ok": True},
        }
        for seq in range(1, count + 1)
    ]
    return chained(entries)


def leaves_of(entries: Sequence[dict[str, Any]]) -> list[bytes]:
    return [bytes.fromhex(entry["entry_hash"]) for entry in entries]


def checkpoint_note(
    entries: Sequence[dict[str, Any]], size: int, signer: SignerKey, origin: str = ORIGIN
) -> str:
    return sign_note(checkpoint_body(origin, size, root(leaves_of(entries[:size]))), signer)


class Log:
    """A 30-entry log with checkpoints at 10 and 30, as the database side would hold it."""

    def __init__(self) -> None:
        self.signer = generate_signer(ORIGIN)
        self.entries = make_entries(30)
        self.notes = {size: checkpoint_note(self.entries, size, self.signer) for size in (10, 30)}

    def export(
        self,
        out: Path,
        entries: Sequence[dict[str, Any]] | None = None,
        leaves: Sequence[str] | None = None,
        notes: Sequence[str] | None = None,
        first_seq: int | None = 1,
        last_seq: int | None = 30,
    ) -> Path:
        exported = self.entries if entries is None else entries
        write_export(
            out,
            {
                "origin": ORIGIN,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "since": None,
                "until": None,
                "exported_at": format_ts(START + timedelta(hours=1)),
            },
            exported,
            [entry["entry_hash"] for entry in self.entries] if leaves is None else leaves,
            [
                {"note": note, "created_at": format_ts(START)}
                for note in (self.notes.values() if notes is None else notes)
            ],
            [self.signer.verifier.text],
        )
        return out


@pytest.fixture
def log() -> Log:
    return Log()


def edit_lines(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("".join(line + "\n" for line in change(lines)), encoding="utf-8")


def assert_fails(report: VerifyReport, first_problem: str, first_bad_seq: int | None) -> None:
    assert not report.ok
    assert report.problems[0] == first_problem
    assert report.first_bad_seq == first_bad_seq


# --- format -------------------------------------------------------------------------------


def test_format_ts_is_utc_with_six_fraction_digits() -> None:
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 1, 2, 3, 4, 5, 42, tzinfo=paris)
    assert format_ts(moment) == "2026-01-02T02:04:05.000042Z"
    assert format_ts(datetime(2026, 1, 2, 3, 4, 5, 123456)) == "2026-01-02T03:04:05.123456Z"


def test_canonical_entry_is_jcs_of_exactly_the_nine_members() -> None:
    entry = make_entries(1)[0]
    expected = rfc8785.dumps({name: entry[name] for name in ENTRY_FIELDS})
    assert canonical_entry(entry) == expected
    assert canonical_entry({**entry, "extra": 1}) == expected
    assert canonical_entry(dict(reversed(list(entry.items())))) == expected
    assert entry_hash(entry) == hashlib.sha256(expected).hexdigest()
    assert expected.startswith(b'{"actor":"node:gpu-1","case_id":"case-A","data":{')


def test_canonical_entry_names_a_missing_member() -> None:
    entry = make_entries(1)[0]
    del entry["node"]
    with pytest.raises(KeyError, match="node"):
        canonical_entry(entry)


def test_write_export_needs_an_absent_or_empty_directory(log: Log, tmp_path: Path) -> None:
    log.export(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    log.export(tmp_path / "empty")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty"):
        log.export(tmp_path / "used")


def test_write_export_refuses_a_range_that_is_not_what_it_wrote(log: Log, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="last_seq 31 but the entries written give 30"):
        log.export(tmp_path / "out", last_seq=31)


def test_export_files_have_the_documented_shape(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    meta = json.loads((out / "export.json").read_text())
    assert meta == {
        "format": EXPORT_FORMAT,
        "origin": ORIGIN,
        "first_seq": 1,
        "last_seq": 30,
        "since": None,
        "until": None,
        "exported_at": "2026-03-02T10:00:00.000000Z",
        "entries": 30,
        "leaves": 30,
    }
    lines = (out / "entries.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == log.entries
    assert list(json.loads(lines[0])) == [*ENTRY_FIELDS, "entry_hash"]
    leaves = (out / "leaves.txt").read_text().splitlines()
    assert leaves == [entry["entry_hash"] for entry in log.entries]
    checkpoints = [
        json.loads(line) for line in (out / "checkpoints.jsonl").read_text().splitlines()
    ]
    assert [item["note"] for item in checkpoints] == [log.notes[10], log.notes[30]]
    assert (out / "keys.txt").read_text() == log.signer.verifier.text + "\n"


# --- exports that verify --------------------------------------------------------------------


def test_a_valid_export_verifies(log: Log, tmp_path: Path) -> None:
    report = verify_path(log.export(tmp_path / "out"))
    assert report.problems == []
    assert report.ok
    assert (report.kind, report.entries, report.checkpoints) == ("export", 30, 2)
    assert report.first_bad_seq is None
    assert report.keys_used == [log.signer.verifier.text]
    assert report.keys_pinned is False
    assert report.elapsed_s > 0


def test_a_valid_export_verifies_with_its_key_pinned(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    (out / "keys.txt").write_text("")  # pinned keys replace the export's own
    report = verify_path(out, [log.signer.verifier.text])
    assert report.ok, report.problems
    assert report.keys_pinned is True


def test_a_partial_export_links_to_the_leaves_before_it(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out", entries=log.entries[10:], first_seq=11)
    report = verify_path(out)
    assert report.ok, report.problems
    assert report.entries == 20


def test_an_empty_export_with_a_checkpoint_verifies(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out", entries=[], first_seq=None, last_seq=None)
    report = verify_path(out)
    assert report.ok, report.problems
    assert report.entries == 0


# --- changed entries ------------------------------------------------------------------------

CHANGES: dict[str, Any] = {
    "seq": 18,
    "ts": "2026-03-02T09:00:17.000018Z",
    "kind": "approval.decided",
    "actor": "someone.else",
    "case_id": "case-Z",
    "model": "a-bigger-model",
    "node": "gpu-9",
    "data": {"step": "classify", "tokens": 0, "latency_ms": 17 / 3, "ok": True},
    "prev_hash": "ab" * 32,
    "entry_hash": "cd" * 32,
}


@pytest.mark.parametrize("member", [*ENTRY_FIELDS, "entry_hash"])
def test_changing_any_member_of_entry_17_is_caught_at_17(
    log: Log, tmp_path: Path, member: str
) -> None:
    entries = copy.deepcopy(log.entries)
    assert entries[16][member] != CHANGES[member]
    entries[16][member] = CHANGES[member]
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    expected = (
        "entry 17 is missing (entry 18 follows entry 16)"
        if member == "seq"
        else f"entry 17: {CONTENT_CHANGED}"
    )
    assert_fails(report, expected, 17)


@pytest.mark.parametrize("position", range(1, 31))
def test_a_change_to_any_entry_is_caught_at_that_entry(
    log: Log, tmp_path: Path, position: int
) -> None:
    entries = copy.deepcopy(log.entries)
    entries[position - 1]["data"]["changed"] = True
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    assert_fails(report, f"entry {position}: {CONTENT_CHANGED}", position)


def test_changing_a_member_to_null_is_caught(log: Log, tmp_path: Path) -> None:
    entries = copy.deepcopy(log.entries)
    entries[16]["case_id"] = None
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    assert_fails(report, f"entry 17: {CONTENT_CHANGED}", 17)


def test_a_rehashed_entry_no_longer_matches_its_leaf(log: Log, tmp_path: Path) -> None:
    entries = copy.deepcopy(log.entries)
    entries[16]["data"]["tokens"] = 1
    entries[16]["entry_hash"] = entry_hash(entries[16])
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    assert_fails(report, "entry 17: its hash differs from line 17 of leaves.txt", 17)


def test_a_rehashed_entry_with_its_leaf_breaks_the_next_link(log: Log, tmp_path: Path) -> None:
    entries = copy.deepcopy(log.entries)
    entries[16]["data"]["tokens"] = 1
    entries[16]["entry_hash"] = entry_hash(entries[16])
    leaves = [entry["entry_hash"] for entry in entries]
    report = verify_path(log.export(tmp_path / "out", entries=entries, leaves=leaves))
    assert_fails(report, "entry 18: does not link to entry 17", 18)


def test_rewriting_17_and_rechaining_everything_after_is_caught_by_the_checkpoint(
    log: Log, tmp_path: Path
) -> None:
    entries = copy.deepcopy(log.entries)
    entries[16]["actor"] = "someone.else"
    chained(entries, start=16)
    leaves = [entry["entry_hash"] for entry in entries]
    report = verify_path(log.export(tmp_path / "out", entries=entries, leaves=leaves))
    assert report.problems == [
        "checkpoint at tree size 30: root does not match the entries; an entry at or before 30 "
        "was altered after it was signed"
    ]
    assert report.first_bad_seq is None
    assert not report.ok


def test_a_changed_leaf_before_a_partial_export_is_caught(log: Log, tmp_path: Path) -> None:
    leaves = [entry["entry_hash"] for entry in log.entries]
    leaves[9] = "00" * 32
    out = log.export(tmp_path / "out", entries=log.entries[10:], leaves=leaves, first_seq=11)
    report = verify_path(out)
    assert_fails(report, "entry 11: does not link to entry 10", 11)
    assert report.problems[1:] == [
        "checkpoint at tree size 10: root does not match the entries; an entry at or before 10 "
        "was altered after it was signed",
        "checkpoint at tree size 30: root does not match the entries; an entry at or before 30 "
        "was altered after it was signed",
    ]


def test_entry_1_must_start_the_chain(log: Log, tmp_path: Path) -> None:
    entries = copy.deepcopy(log.entries)
    entries[0]["prev_hash"] = "11" * 32
    entries[0]["entry_hash"] = entry_hash(entries[0])
    chained(entries, start=1)
    leaves = [entry["entry_hash"] for entry in entries]
    report = verify_path(log.export(tmp_path / "out", entries=entries, leaves=leaves))
    assert_fails(report, "entry 1: does not start the chain (prev_hash is not 64 zeros)", 1)


# --- missing, moved and inserted entries ------------------------------------------------------


def test_a_deleted_entry_is_named(log: Log, tmp_path: Path) -> None:
    entries = log.entries[:16] + log.entries[17:]
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    assert_fails(report, "entry 17 is missing (entry 18 follows entry 16)", 17)


def test_several_deleted_entries_are_named(log: Log, tmp_path: Path) -> None:
    entries = log.entries[:16] + log.entries[19:]
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    assert_fails(report, "entries 17 to 19 are missing (entry 20 follows entry 16)", 17)


def test_swapped_entries_are_named(log: Log, tmp_path: Path) -> None:
    entries = [*log.entries]
    entries[16], entries[17] = entries[17], entries[16]
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    assert_fails(report, "entry 17 is missing (entry 18 follows entry 16)", 17)


def test_an_inserted_forged_entry_is_caught_at_18(log: Log, tmp_path: Path) -> None:
    forged = copy.deepcopy(log.entries[16])
    forged["seq"] = 18
    forged["data"] = {"step": "approve", "decision": "approved"}
    forged["prev_hash"] = log.entries[16]["entry_hash"]
    forged["entry_hash"] = entry_hash(forged)
    entries = [*log.entries[:17], forged, *log.entries[17:]]
    report = verify_path(log.export(tmp_path / "out", entries=entries))
    assert_fails(report, "entry 18: its hash differs from line 18 of leaves.txt", 18)


def test_an_inserted_forged_entry_with_a_forged_leaf_is_caught_at_18(
    log: Log, tmp_path: Path
) -> None:
    forged = copy.deepcopy(log.entries[16])
    forged["seq"] = 18
    forged["data"] = {"step": "approve", "decision": "approved"}
    forged["prev_hash"] = log.entries[16]["entry_hash"]
    forged["entry_hash"] = entry_hash(forged)
    entries = [*log.entries[:17], forged, *log.entries[17:]]
    leaves = [entry["entry_hash"] for entry in log.entries]
    leaves[17] = forged["entry_hash"]
    report = verify_path(log.export(tmp_path / "out", entries=entries, leaves=leaves))
    assert_fails(report, "entry 18 appears twice", 18)
    assert any("checkpoint at tree size 30: root does not match" in p for p in report.problems)


def test_an_entry_out_of_order_is_named(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    edit_lines(out / "entries.jsonl", lambda lines: [*lines[:14], lines[11], *lines[14:]])
    assert_fails(verify_path(out), "entry 12 appears after entry 14 (out of order)", 12)


def test_a_truncated_export_is_named(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    edit_lines(out / "entries.jsonl", lambda lines: lines[:28])
    report = verify_path(out)
    assert_fails(
        report,
        "entries 29 to 30 are missing at the end (export.json says the export ends at entry 30)",
        29,
    )
    assert "entries.jsonl has 28 entries, but export.json says 30" in report.problems


def test_an_export_that_starts_elsewhere_is_named(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    edit_lines(out / "entries.jsonl", lambda lines: lines[1:])
    report = verify_path(out)
    assert_fails(
        report, "the first entry is 2, but export.json says the export starts at entry 1", 1
    )


# --- malformed lines ------------------------------------------------------------------------


def _replace_line_17(out: Path, text: str) -> VerifyReport:
    edit_lines(out / "entries.jsonl", lambda lines: [*lines[:16], text, *lines[17:]])
    return verify_path(out)


def test_a_line_that_is_not_an_object_is_named(log: Log, tmp_path: Path) -> None:
    report = _replace_line_17(log.export(tmp_path / "out"), "[17]")
    assert_fails(report, "entries.jsonl line 17 is not a JSON object", 17)


def test_a_line_that_is_not_json_is_named(log: Log, tmp_path: Path) -> None:
    report = _replace_line_17(log.export(tmp_path / "out"), "{not json")
    assert not report.ok
    assert report.problems[0].startswith("entries.jsonl line 17 is not valid JSON: ")
    assert report.first_bad_seq == 17


def test_an_extra_member_is_named(log: Log, tmp_path: Path) -> None:
    line = json.dumps({**log.entries[16], "note": "added later"})
    report = _replace_line_17(log.export(tmp_path / "out"), line)
    assert_fails(report, "entry 17: unexpected member(s) 'note'", 17)


def test_a_missing_member_is_named(log: Log, tmp_path: Path) -> None:
    entry = {name: value for name, value in log.entries[16].items() if name != "model"}
    report = _replace_line_17(log.export(tmp_path / "out"), json.dumps(entry))
    assert_fails(report, "entry 17: missing member(s) 'model'", 17)


def test_a_member_given_twice_is_refused(log: Log, tmp_path: Path) -> None:
    line = json.dumps(log.entries[16])[:-1] + ', "kind": "case.deleted"}'
    report = _replace_line_17(log.export(tmp_path / "out"), line)
    assert report.problems[0] == (
        "entries.jsonl line 17 is not valid JSON: member 'kind' appears twice"
    )
    assert report.first_bad_seq == 17


def test_a_line_that_is_not_utf8_is_a_problem(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    with (out / "entries.jsonl").open("ab") as entries:
        entries.write(b'{"seq": "\xff"}\n')
    report = verify_path(out)
    assert not report.ok
    assert report.problems[0].startswith(f"cannot read {out}: entries.jsonl is not UTF-8 text: ")


def test_a_badly_typed_member_is_named(log: Log, tmp_path: Path) -> None:
    line = json.dumps({**log.entries[16], "ts": "2026-03-02 09:00:17"})
    report = _replace_line_17(log.export(tmp_path / "out"), line)
    assert_fails(report, "entry 17: ts is not a UTC time written YYYY-MM-DDTHH:MM:SS.ffffffZ", 17)


def test_nan_is_not_json(log: Log, tmp_path: Path) -> None:
    line = json.dumps(log.entries[16]).replace('"ok": true', '"ok": NaN')
    report = _replace_line_17(log.export(tmp_path / "out"), line)
    assert report.problems[0] == "entries.jsonl line 17 is not valid JSON: NaN is not a JSON value"


def test_a_count_that_differs_from_export_json_is_named(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    meta = json.loads((out / "export.json").read_text())
    meta["entries"] = 31
    (out / "export.json").write_text(json.dumps(meta))
    report = verify_path(out)
    assert report.problems == ["entries.jsonl has 30 entries, but export.json says 31"]


def test_a_malformed_leaves_line_is_named(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    edit_lines(out / "leaves.txt", lambda lines: [*lines[:4], lines[4].upper(), *lines[5:]])
    report = verify_path(out)
    assert "leaves.txt line 5 is not 64 lowercase hex characters" in report.problems
    assert not report.ok


# --- checkpoints and keys -------------------------------------------------------------------


def test_no_checkpoint_is_a_problem(log: Log, tmp_path: Path) -> None:
    report = verify_path(log.export(tmp_path / "out", notes=[]))
    assert report.problems == ["no signed checkpoint covers the export"]


def test_entries_after_the_last_checkpoint_are_named(log: Log, tmp_path: Path) -> None:
    report = verify_path(log.export(tmp_path / "out", notes=[log.notes[10]]))
    assert report.problems == ["entries 11 to 30 are not covered by any signed checkpoint"]


def test_a_pinned_wrong_key_fails(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    report = verify_path(out, [generate_signer(ORIGIN).verifier.text])
    assert report.problems == [
        "checkpoint at tree size 10: not signed by a trusted key: "
        "the note has no signature by a known key",
        "checkpoint at tree size 30: not signed by a trusted key: "
        "the note has no signature by a known key",
        "entries 1 to 30 are not covered by any signed checkpoint",
    ]
    assert report.keys_pinned is True
    assert report.keys_used == []


def test_a_malformed_pinned_key_is_a_problem(log: Log, tmp_path: Path) -> None:
    report = verify_path(log.export(tmp_path / "out"), ["not a key"])
    assert not report.ok
    assert report.problems[0].startswith("pinned key 1 is malformed: ")


def test_a_checkpoint_signed_by_a_key_not_in_keys_txt_fails(log: Log, tmp_path: Path) -> None:
    stranger = generate_signer(ORIGIN)
    notes = [log.notes[10], checkpoint_note(log.entries, 30, stranger)]
    report = verify_path(log.export(tmp_path / "out", notes=notes))
    assert report.problems == [
        "checkpoint at tree size 30: not signed by a trusted key: "
        "the note has no signature by a known key",
        "entries 11 to 30 are not covered by any signed checkpoint",
    ]


def test_a_changed_checkpoint_note_fails(log: Log, tmp_path: Path) -> None:
    forged = log.notes[30].replace("\n30\n", "\n29\n", 1)
    report = verify_path(log.export(tmp_path / "out", notes=[log.notes[10], forged]))
    assert report.problems[0].startswith(
        "checkpoint at tree size 29: not signed by a trusted key: the signature by "
    )


def test_a_checkpoint_of_another_log_fails(log: Log, tmp_path: Path) -> None:
    other = generate_signer("other.log/audit")
    notes = [*log.notes.values(), checkpoint_note(log.entries, 30, other, "other.log/audit")]
    out = log.export(tmp_path / "out", notes=notes)
    (out / "keys.txt").write_text(f"{log.signer.verifier.text}\n{other.verifier.text}\n")
    report = verify_path(out)
    assert report.problems == [
        f"checkpoint at tree size 30: its origin 'other.log/audit' is not the export's ({ORIGIN!r})"
    ]


def test_a_checkpoint_beyond_the_leaves_is_named(log: Log, tmp_path: Path) -> None:
    longer = make_entries(40)
    note = checkpoint_note(longer, 40, log.signer)
    report = verify_path(log.export(tmp_path / "out", notes=[*log.notes.values(), note]))
    assert report.problems == ["checkpoint at tree size 40: leaves.txt has only 30 leaves"]


# --- files that are missing or unreadable ---------------------------------------------------


def test_a_missing_path_is_a_problem_not_an_exception(tmp_path: Path) -> None:
    report = verify_path(tmp_path / "proof.json")
    assert (report.kind, report.ok) == ("proof", False)
    assert report.problems == [f"{tmp_path / 'proof.json'} does not exist"]
    assert verify_path(tmp_path / "export").kind == "export"


@pytest.mark.parametrize(
    "name", ["export.json", "entries.jsonl", "leaves.txt", "checkpoints.jsonl", "keys.txt"]
)
def test_a_missing_export_file_is_a_problem(log: Log, tmp_path: Path, name: str) -> None:
    out = log.export(tmp_path / "out")
    (out / name).unlink()
    report = verify_path(out)
    assert not report.ok
    assert any(problem.startswith(f"{name} is missing") for problem in report.problems)


def test_an_unreadable_export_json_is_a_problem(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    (out / "export.json").write_bytes(b"\xff\xfe not utf-8")
    report = verify_path(out)
    assert not report.ok
    assert len(report.problems) == 1
    (out / "export.json").write_text("{")
    assert verify_path(out).problems[0].startswith("export.json is not valid JSON: ")


def test_an_export_of_another_format_is_refused(log: Log, tmp_path: Path) -> None:
    out = log.export(tmp_path / "out")
    (out / "export.json").write_text(json.dumps({"format": "idara-audit-export/2"}))
    report = verify_path(out)
    assert report.problems == [
        "export.json: format is 'idara-audit-export/2', not idara-audit-export/1"
    ]


# --- proof files ----------------------------------------------------------------------------


def write_case_proof(log: Log, path: Path, case_id: str = "case-A", size: int = 30) -> Path:
    leaves = leaves_of(log.entries[:size])
    proofs = [
        {
            "entry": entry,
            "leaf_index": entry["seq"] - 1,
            "tree_size": size,
            "path": [step.hex() for step in inclusion_proof(entry["seq"] - 1, leaves)],
        }
        for entry in log.entries[:size]
        if entry["case_id"] == case_id
    ]
    write_proof(path, case_id, log.notes[size], [log.signer.verifier.text], proofs)
    return path


def edit_proof(path: Path, change: Callable[[dict[str, Any]], None]) -> VerifyReport:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return verify_path(path)


def test_a_valid_proof_verifies(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "case-A.json")
    document = json.loads(path.read_text())
    assert document["format"] == PROOF_FORMAT
    assert [proof["leaf_index"] for proof in document["proofs"]] == list(range(0, 30, 2))
    report = verify_path(path)
    assert report.problems == []
    assert (report.kind, report.ok, report.entries, report.checkpoints) == ("proof", True, 15, 1)
    assert report.keys_used == [log.signer.verifier.text]
    assert verify_path(path, [log.signer.verifier.text]).ok


def test_a_proof_against_an_older_checkpoint_verifies(log: Log, tmp_path: Path) -> None:
    assert verify_path(write_case_proof(log, tmp_path / "p.json", size=10)).ok


def test_a_proof_with_changed_entry_data_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")

    def change(document: dict[str, Any]) -> None:
        document["proofs"][2]["entry"]["data"]["tokens"] = 0

    assert_fails(edit_proof(path, change), f"entry 5: {CONTENT_CHANGED}", 5)


def test_a_proof_with_a_changed_and_rehashed_entry_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")

    def change(document: dict[str, Any]) -> None:
        entry = document["proofs"][2]["entry"]
        entry["data"]["tokens"] = 0
        entry["entry_hash"] = entry_hash(entry)

    assert_fails(
        edit_proof(path, change),
        "entry 5: its inclusion proof does not lead to the checkpoint's root "
        "(the entry or the proof was altered)",
        5,
    )


def test_a_proof_with_a_changed_path_hash_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")

    def change(document: dict[str, Any]) -> None:
        document["proofs"][0]["path"][1] = "00" * 32

    assert_fails(
        edit_proof(path, change),
        "entry 1: its inclusion proof does not lead to the checkpoint's root "
        "(the entry or the proof was altered)",
        1,
    )


def test_a_proof_with_a_short_path_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")

    def change(document: dict[str, Any]) -> None:
        document["proofs"][0]["path"].pop()

    assert_fails(
        edit_proof(path, change),
        "entry 1: the proof is too short for leaf 0 of a tree of size 30",
        1,
    )


def test_a_proof_for_another_case_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")

    def change(document: dict[str, Any]) -> None:
        document["case_id"] = "case-B"

    assert_fails(edit_proof(path, change), "entry 1 belongs to case 'case-A', not 'case-B'", 1)


def test_a_proof_with_a_moved_leaf_index_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")

    def change(document: dict[str, Any]) -> None:
        document["proofs"][1]["leaf_index"] = 3

    assert_fails(edit_proof(path, change), "entry 3: leaf_index 3 is not its position 2", 3)


def test_a_proof_with_a_changed_checkpoint_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")

    def change(document: dict[str, Any]) -> None:
        body, signatures = document["checkpoint"].split("\n\n")
        lines = body.split("\n")
        lines[2] = base64.b64encode(b"\x00" * 32).decode()
        document["checkpoint"] = "\n".join(lines) + "\n\n" + signatures

    report = edit_proof(path, change)
    assert report.problems[0].startswith("the checkpoint is not signed by a trusted key: ")


def test_a_proof_with_a_pinned_wrong_key_fails(log: Log, tmp_path: Path) -> None:
    path = write_case_proof(log, tmp_path / "p.json")
    report = verify_path(path, [generate_signer(ORIGIN).verifier.text])
    assert report.problems == [
        "the checkpoint is not signed by a trusted key: the note has no signature by a known key"
    ]


def test_an_unreadable_proof_file_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("not json")
    report = verify_path(path)
    assert report.kind == "proof"
    assert report.problems[0].startswith("the proof file p.json is not valid JSON: ")


# --- the worked example of docs/audit-format.md ---------------------------------------------


def worked_example() -> dict[str, str]:
    """The values docs/audit-format.md prints, recomputed from the code."""
    signer = signer_from_seed(
        "audit.example.gov/idara", hashlib.sha256(b"idara audit-format worked example").digest()
    )
    moments = [
        datetime(2026, 1, 15, 9, 30, 0, 125000, tzinfo=UTC) + timedelta(seconds=s)
        for s in (0, 2, 9)
    ]
    entries = chained(
        [
            {
                "seq": 1,
                "ts": format_ts(moments[0]),
                "kind": "case.created",
                "actor": "clerk.amina",
                "case_id": "c-0001",
                "model": None,
                "node": None,
                "data": {"procedure": "residence-permit", "language": "fr"},
            },
            {
                "seq": 2,
                "ts": format_ts(moments[1]),
                "kind": "step.finished",
                "actor": "node:edge-1",
                "case_id": "c-0001",
                "model": "smollm2-135m-q4_1",
                "node": "edge-1",
                "data": {"step": "classify", "prompt_tokens": 412, "latency_ms": 1834.5},
            },
            {
                "seq": 3,
                "ts": format_ts(moments[2]),
                "kind": "approval.decided",
                "actor": "supervisor.karim",
                "case_id": "c-0001",
                "model": None,
                "node": None,
                "data": {"decision": "approved", "note": "Dossier complet, r\u00e9f. 12/B"},
            },
        ]
    )
    leaves = leaves_of(entries)
    tree_root = root(leaves)
    return {
        "canonical_1": canonical_entry(entries[0]).decode(),
        "hash_1": entries[0]["entry_hash"],
        "hash_2": entries[1]["entry_hash"],
        "hash_3": entries[2]["entry_hash"],
        "leaf_hashes": " ".join(hashlib.sha256(b"\x00" + leaf).hexdigest() for leaf in leaves),
        "root_hex": tree_root.hex(),
        "note": sign_note(checkpoint_body(signer.name, 3, tree_root), signer),
        "verifier": signer.verifier.text,
    }


def test_the_worked_example_in_the_doc_is_what_the_code_computes() -> None:
    doc = DOC.read_text(encoding="utf-8")
    example = worked_example()
    for name, value in example.items():
        for part in value.split(" ") if name == "leaf_hashes" else value.split("\n"):
            assert part in doc, f"{name}: {part!r} is not in {DOC.name}"
