"""The figures of the model benchmark, computed from what the platform recorded.

Pure functions over plain records, so they are tested without a stack."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StepRecord:
    """One agent step as the platform ran it: what a raw replay needs, and its figures."""

    case_id: str
    name: str
    prompt_ref: str
    max_tokens: int
    messages: list[dict[str, str]]
    completion_tokens: int
    model_ms: float
    finished_at: datetime


@dataclass(frozen=True)
class CaseRecord:
    case_id: str
    created_at: datetime
    awaiting_at: datetime
    """When its approval opened: the end of the agent work a clerk waits for."""
    steps: tuple[StepRecord, ...]

    @property
    def latency_s(self) -> float:
        return (self.awaiting_at - self.created_at).total_seconds()

    @property
    def model_s(self) -> float:
        return sum(step.model_ms for step in self.steps) / 1000.0

    @property
    def outside_model_share(self) -> float:
        """The part of the latency spent anywhere but in the model's generation."""
        return max(0.0, 1.0 - self.model_s / self.latency_s) if self.latency_s > 0 else 0.0


@dataclass(frozen=True)
class Throughput:
    tokens: int
    wall_s: float
    model_s: float = 0.0
    """Time the model spent generating, summed over the steps (the node's own figure)."""

    @property
    def model_busy_share(self) -> float:
        """How much of the wall time the model was at work (the rest: the platform's gaps)."""
        return self.model_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall_s if self.wall_s > 0 else 0.0


def platform_throughput(cases: list[CaseRecord]) -> Throughput:
    """Generated tokens over the time from the first filing to the last agent step's end."""
    steps = [step for case in cases for step in case.steps]
    if not steps:
        raise ValueError("no agent step ran")
    start = min(case.created_at for case in cases)
    end = max(step.finished_at for step in steps)
    return Throughput(
        sum(s.completion_tokens for s in steps),
        (end - start).total_seconds(),
        sum(s.model_ms for s in steps) / 1000.0,
    )


@dataclass(frozen=True)
class Latency:
    p50_s: float
    p95_s: float
    outside_model_share: float
    """Over all cases: 1 - model time / latency."""


def latency(cases: list[CaseRecord]) -> Latency:
    values = sorted(case.latency_s for case in cases)
    if not values:
        raise ValueError("no case reached its approval")
    total = sum(values)
    model = sum(case.model_s for case in cases)
    return Latency(
        p50_s=statistics.median(values),
        p95_s=percentile(values, 0.95),
        outside_model_share=max(0.0, 1.0 - model / total) if total > 0 else 0.0,
    )


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (a value that was measured, never interpolated)."""
    rank = max(1, -(-len(sorted_values) * fraction // 1))
    return sorted_values[int(rank) - 1]


def cases_per_s(cases: list[CaseRecord]) -> float:
    """Cases brought to their approval per second, from the first filing to the last."""
    if not cases:
        raise ValueError("no case reached its approval")
    start = min(case.created_at for case in cases)
    wall = (max(case.awaiting_at for case in cases) - start).total_seconds()
    return len(cases) / wall if wall > 0 else 0.0


@dataclass(frozen=True)
class ScalingPoint:
    workers: int
    """Nodes, or worker processes of one node."""
    cases_per_s: float
    tokens_per_s: float | None = None
    model_busy_share: float | None = None
    """Model time over (wall time times workers): how busy each worker's model was on average."""


def scaled(points: list[ScalingPoint]) -> list[dict[str, float | None]]:
    """Each point with its speed-up over the first and its efficiency (speed-up over the
    ideal, linear one): 1.0 when N workers do N times the work of one."""
    if not points:
        return []
    base = points[0]
    rows = []
    for point in points:
        speed_up = point.cases_per_s / base.cases_per_s if base.cases_per_s > 0 else 0.0
        rows.append(
            {
                "workers": point.workers,
                "cases_per_s": point.cases_per_s,
                "tokens_per_s": point.tokens_per_s,
                "model_busy_share": point.model_busy_share,
                "speed_up": speed_up,
                "efficiency": speed_up / (point.workers / base.workers),
            }
        )
    return rows
