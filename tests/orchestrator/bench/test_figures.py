"""The benchmark's figures from recorded cases: what the report prints is what happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.bench import figures
from orchestrator.bench.figures import CaseRecord, StepRecord

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def step(tokens: int, model_ms: float, finished_after_s: float) -> StepRecord:
    return StepRecord(
        case_id="c",
        name="classify",
        prompt_ref="triage@v2",
        max_tokens=64,
        messages=[{"role": "user", "content": "x"}],
        completion_tokens=tokens,
        model_ms=model_ms,
        finished_at=T0 + timedelta(seconds=finished_after_s),
    )


def case(filed_after_s: float, latency_s: float, *steps: StepRecord) -> CaseRecord:
    filed = T0 + timedelta(seconds=filed_after_s)
    return CaseRecord("c", filed, filed + timedelta(seconds=latency_s), steps)


def test_throughput_runs_from_the_first_filing_to_the_last_step_end() -> None:
    cases = [case(0, 5, step(40, 500, 2), step(60, 800, 4)), case(1, 9, step(100, 900, 8))]
    through = figures.platform_throughput(cases)
    assert (through.tokens, through.wall_s, through.model_s) == (200, 8.0, 2.2)
    assert through.tokens_per_s == 25.0
    assert through.model_busy_share == pytest.approx(2.2 / 8.0)


def test_outside_the_model_is_latency_not_spent_generating() -> None:
    one = case(0, 4, step(10, 1000, 1), step(10, 2000, 3))  # 3 s of 4 in the model
    assert one.outside_model_share == pytest.approx(0.25)
    slow = case(0, 10, step(10, 1000, 1))
    result = figures.latency([one, slow])
    assert result.p50_s == 7.0
    assert result.p95_s == 10.0  # a measured value, the slowest of two
    assert result.outside_model_share == pytest.approx(1 - 4 / 14)


def test_nearest_rank_percentile() -> None:
    values = [float(v) for v in range(1, 21)]
    assert figures.percentile(values, 0.95) == 19.0
    assert figures.percentile(values, 0.5) == 10.0
    assert figures.percentile([3.0], 0.95) == 3.0


def test_no_cases_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError):
        figures.latency([])
    with pytest.raises(ValueError):
        figures.platform_throughput([case(0, 1)])


def test_scaling_reports_speed_up_and_efficiency_against_the_first_count() -> None:
    rows = figures.scaled(
        [
            figures.ScalingPoint(1, 2.0),
            figures.ScalingPoint(2, 3.0),
            figures.ScalingPoint(4, 2.0),
        ]
    )
    assert [row["speed_up"] for row in rows] == [1.0, 1.5, 1.0]
    # two workers doing 1.5 times the work of one: 75% of linear; four doing no more: 25%
    assert [row["efficiency"] for row in rows] == [1.0, 0.75, 0.25]


def test_scaling_from_a_base_above_one_counts_workers_relative_to_it() -> None:
    rows = figures.scaled([figures.ScalingPoint(2, 4.0), figures.ScalingPoint(4, 8.0)])
    assert rows[1]["speed_up"] == 2.0 and rows[1]["efficiency"] == 1.0
