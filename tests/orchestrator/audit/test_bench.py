"""The verifier benchmark builds a realistic export that verifies."""

from __future__ import annotations

import json
from pathlib import Path

from orchestrator.audit.bench import bench_verify, synthetic_export
from orchestrator.audit.verify import verify_path


def test_bench_verify_on_2000_entries_is_ok(tmp_path: Path) -> None:
    result = bench_verify(2_000, tmp_path / "not-yet-there")
    assert set(result) == {"entries", "build_s", "verify_s", "entries_per_s", "ok"}
    assert result["ok"] is True
    assert result["entries"] == 2_000
    assert result["build_s"] > 0
    assert result["verify_s"] > 0
    assert result["entries_per_s"] > 0


def test_synthetic_export_signs_every_thousand_entries_and_the_end(tmp_path: Path) -> None:
    synthetic_export(tmp_path / "out", 2_500, origin="bench.example/audit")
    report = verify_path(tmp_path / "out")
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (2_500, 3)
    checkpoints = (tmp_path / "out" / "checkpoints.jsonl").read_text().splitlines()
    sizes = [json.loads(line)["note"].split("\n")[1] for line in checkpoints]
    assert sizes == ["1000", "2000", "2500"]
    entries = (tmp_path / "out" / "entries.jsonl").read_text().splitlines()
    kinds = {json.loads(line)["kind"] for line in entries}
    assert {"case.created", "step.started", "step.finished", "approval.decided"} <= kinds
    finished = next(json.loads(line) for line in entries if '"step.finished"' in line)
    assert {"prompt_tokens", "completion_tokens", "latency_ms", "output_sha256"} <= set(
        finished["data"]
    )
