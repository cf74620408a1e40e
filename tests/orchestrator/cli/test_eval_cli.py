"""``idara eval`` on the real default model: the report, the baselines, the audit entry, and
the CI gate on 40 items of the report split (thresholds from measured spread, below)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from orchestrator.audit.models import AuditEntry
from orchestrator.cli.main import app
from orchestrator.db import make_engine
from orchestrator.settings import get_settings
from workers.settings import SEEDS_DIR

pytestmark = pytest.mark.slow
TRIAGE = str(SEEDS_DIR / "eval" / "triage")
BIRTH = str(SEEDS_DIR / "eval" / "birth-certificate.jsonl")
# The gate CI runs on 40 items (8 per language). Measured: accuracy 0.95 on these, 0.875 to
# 1.0 on the five 40-item fifths of the report split; gaps 0 to 0.25 (docs/evaluation.md).
MIN_ACCURACY = 0.85
MAX_LANGUAGE_GAP = 0.375
# Extraction on the report split: 2 invented values in 74 items, none among the 15 the gate
# reads (0, 0, 1, 0, 1 in its five 15-item chunks); the rules decide, so the same items give
# the same values run after run, and one invented value on them fails CI.
MAX_INVENTED = 0


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("IDARA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("IDARA_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _eval(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["eval", *args])
    return result.exit_code, result.output


def test_the_triage_gate_passes_beats_the_lexical_baseline_and_is_audited(data_dir: Path) -> None:
    out = data_dir / "report"
    code, output = _eval(
        TRIAGE, "--procedure", "citizen-request-triage", "--split", "report", "--limit", "40",
        "--min-accuracy", str(MIN_ACCURACY), "--max-language-gap", str(MAX_LANGUAGE_GAP),
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    step = report["steps"]["classify"]
    assert report["run"]["languages"] == {"ar": 8, "ary": 8, "ary-Latn": 8, "en": 8, "fr": 8}
    assert step["systems"]["step"]["accuracy"] >= MIN_ACCURACY
    assert step["beats_lexical_baseline"]
    assert step["systems"]["majority"]["accuracy"] < 0.3
    assert sum(map(sum, step["confusion"])) == 40
    assert (out / "confusion-classify.png").stat().st_size > 1000
    assert "lexical 1-NN baseline" in (out / "report.md").read_text(encoding="utf-8")
    engine = make_engine(get_settings().effective_database_url)
    with Session(engine) as session:
        (entry,) = session.exec(select(AuditEntry).where(AuditEntry.kind == "eval.run")).all()
    engine.dispose()
    assert entry.data["figures"]["classify"]["accuracy"] == step["systems"]["step"]["accuracy"]
    assert entry.data["dataset_sha256"] == report["run"]["dataset_sha256"]
    assert entry.data["gate"]["failures"] == []


def test_the_extraction_gate_holds_invented_values_and_a_missed_gate_exits_non_zero(
    data_dir: Path,
) -> None:
    out = data_dir / "report"
    code, output = _eval(
        BIRTH, "--procedure", "birth-certificate-request", "--split", "report", "--limit", "15",
        "--max-invented", str(MAX_INVENTED), "--min-accuracy", "1.1", "--out", str(out),
    )  # fmt: skip
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["steps"]["extract"]["invented"] <= MAX_INVENTED, output
    assert code == 0, output  # min-accuracy gates classification steps only
    code, output = _eval(
        TRIAGE, "--procedure", "citizen-request-triage", "--limit", "5", "--min-accuracy", "1.1"
    )
    assert code == 1 and "the gate failed: classify: accuracy" in output


def test_bad_arguments_get_a_clear_error(data_dir: Path) -> None:
    code, output = _eval(TRIAGE, "--procedure", "no-such-procedure")
    assert code == 1 and "has no report item for procedure 'no-such-procedure'" in output
    code, output = _eval(str(data_dir / "missing.jsonl"), "--procedure", "x")
    assert code == 1 and "no dataset at" in output
    code, output = _eval(TRIAGE, "--procedure", "citizen-request-triage", "--split", "train")
    assert code == 1 and "--split must be tune, report or all" in output
