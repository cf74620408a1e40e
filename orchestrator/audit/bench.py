"""How fast the offline verifier checks a large export (``idara audit bench``).

The export is synthetic but shaped like a real one: step events with content hashes, token
counts and latencies, a signed checkpoint every 1,000 entries and one at the end. It is built
with the format functions alone, so the figure measures the verifier, not the database.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.signed_note import SignerKey, checkpoint_body, generate_signer, sign_note
from orchestrator.audit.format import ZERO_HASH, entry_hash, format_ts, write_export
from orchestrator.audit.merkle import TreeBuilder
from orchestrator.audit.verify import verify_path

CHECKPOINT_EVERY = 1000
_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
_STEPS = ("extract", "classify", "check_documents", "draft_letter")
_MODELS = ("smollm2-135m-q4_1", "qwen2.5-1.5b-q4_k_m")
_NODES = ("node-a", "node-b", "node-c")
_CYCLE = (
    "case.created",
    "step.started",
    "step.finished",
    "step.started",
    "step.finished",
    "step.started",
    "step.finished",
    "approval.decided",
)


def _step_event(seq: int, rng: random.Random) -> dict[str, Any]:
    """One entry's members other than the chain's, as a case's life writes them."""
    kind = _CYCLE[(seq - 1) % len(_CYCLE)]
    node = rng.choice(_NODES)
    on_node = kind.startswith("step.")
    data: dict[str, Any] = {"step": _STEPS[(seq - 1) % len(_STEPS)], "attempt": 1}
    if kind == "step.finished":
        data |= {
            "status": "succeeded",
            "prompt_sha256": rng.randbytes(32).hex(),
            "output_sha256": rng.randbytes(32).hex(),
            "prompt_tokens": rng.randint(200, 3000),
            "completion_tokens": rng.randint(20, 600),
            "latency_ms": round(rng.uniform(80.0, 9000.0), 3),
        }
    elif kind == "approval.decided":
        data = {"decision": "approved", "group": "permits", "comment": "Dossier complet."}
    return {
        "seq": seq,
        "ts": format_ts(_START + timedelta(milliseconds=250 * seq)),
        "kind": kind,
        "actor": {"step.finished": f"node:{node}", "approval.decided": "amina"}.get(kind, "engine"),
        "case_id": f"case-{(seq - 1) // len(_CYCLE):07d}",
        "model": rng.choice(_MODELS) if on_node else None,
        "node": node if on_node else None,
        "data": data,
    }


def _chained_entries(count: int, hashes: list[str]) -> Iterator[dict[str, Any]]:
    """The entries, each linked to the one before; their hashes are appended to ``hashes``."""
    rng = random.Random(20260105)
    prev_hash = ZERO_HASH
    for seq in range(1, count + 1):
        entry = _step_event(seq, rng)
        entry["prev_hash"] = prev_hash
        prev_hash = entry["entry_hash"] = entry_hash(entry)
        hashes.append(prev_hash)
        yield entry


def _checkpoint_sizes(count: int) -> list[int]:
    sizes = list(range(CHECKPOINT_EVERY, count + 1, CHECKPOINT_EVERY))
    if count and (not sizes or sizes[-1] != count):
        sizes.append(count)
    return sizes


def _signed_checkpoints(
    hashes: list[str], origin: str, signer: SignerKey
) -> Iterator[dict[str, str]]:
    """Checkpoints over ``hashes`` (read only once the entries are written), in one pass."""
    sizes = set(_checkpoint_sizes(len(hashes)))
    tree = TreeBuilder()
    for value in hashes:
        tree.append(bytes.fromhex(value))
        if tree.size in sizes:
            note = sign_note(checkpoint_body(origin, tree.size, tree.root()), signer)
            created_at = format_ts(_START + timedelta(milliseconds=250 * tree.size + 1))
            yield {"note": note, "created_at": created_at}


def synthetic_export(out_dir: Path, entries: int, origin: str = "bench.idara.local/audit") -> None:
    """Write an export of ``entries`` step events, signed with a fresh key."""
    signer = generate_signer(origin)
    hashes: list[str] = []
    meta = {
        "origin": origin,
        "first_seq": 1 if entries else None,
        "last_seq": entries or None,
        "since": None,
        "until": None,
        "exported_at": format_ts(datetime.now(UTC)),
    }
    # write_export consumes the entries first, so ``hashes`` is complete when the leaves and
    # the checkpoints are read.
    write_export(
        out_dir,
        meta,
        _chained_entries(entries, hashes),
        hashes,
        _signed_checkpoints(hashes, origin, signer),
        [signer.verifier.text],
    )


def bench_verify(entries: int, workdir: Path) -> dict[str, Any]:
    """Build an export of ``entries`` in a new folder under ``workdir`` (created if needed; the
    export is left there for inspection) and time its verification."""
    workdir.mkdir(parents=True, exist_ok=True)
    out_dir = Path(tempfile.mkdtemp(prefix="audit-bench-", dir=workdir))
    started = time.perf_counter()
    synthetic_export(out_dir, entries)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    report = verify_path(out_dir)
    verify_s = time.perf_counter() - started
    return {
        "entries": entries,
        "build_s": round(build_s, 3),
        "verify_s": round(verify_s, 3),
        "entries_per_s": round(entries / verify_s) if verify_s > 0 else 0,
        "ok": report.ok,
    }
