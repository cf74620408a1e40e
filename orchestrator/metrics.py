"""``GET /metrics``: the control plane in the Prometheus text format, read at scrape time.

Nothing is kept in an API process that another API process would not compute alike, so any
number of them answer the same and prometheus_client's multiprocess mode is not needed:

* **gauges** are read at each scrape: the ``nodes`` table (a few rows), the cases that are not
  final by status (the ``ix_cases_status`` index), the steps of the open cases (through
  ``ix_case_steps_case_id``), and the length of every node queue in Redis (one pipelined
  round trip; a Redis that cannot be reached gives ``idara_redis_up 0``, not a failed scrape);
* **counters and histograms** are sums over the audit log. ``audit_entries`` is append-only
  (idara never updates or deletes an entry and database triggers refuse it, migration 0003),
  so a sum over its entries never decreases: that is what makes them Prometheus counters,
  which counts of the ``case_steps`` rows by status would not be (a resumed step goes from
  failed back to pending). Each API process adds only the entries appended since its previous
  scrape, a range of ``seq`` (the primary key): entries are appended one at a time in commit
  order (the ``audit_head`` row lock), so every entry up to the head read is committed, and
  none is counted twice or missed. A process's first scrapes sum the whole log in the
  database, ``CHUNK_ENTRIES`` per query and no more than ``CATCH_UP_S`` of queries per scrape;
  the counters show once it is done (400,000 entries: about 3 s over two scrapes on a 2-core
  machine). A log that is not the one counted (its entry at the last ``seq`` has another hash:
  a new or restored database) is counted again from zero, which Prometheus reads as a counter
  reset.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from sqlalchemy import ColumnElement, Float, case, cast, func
from sqlalchemy import select as core_select
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session, col, select

from agents.contract import node_queue
from orchestrator.audit.models import AuditEntry, AuditHead
from orchestrator.auth.deps import ReadMetrics
from orchestrator.cases.lifecycle import NOT_CLOSED_CASE_STATUSES, OPEN_CASE_STATUSES
from orchestrator.cases.models import Case, CaseStatus, CaseStep
from orchestrator.db import utc, utcnow
from orchestrator.deps import SessionDep, SettingsDep
from orchestrator.nodes import service as nodes
from orchestrator.nodes.models import Health, Schedule
from orchestrator.settings import Settings
from workers.metrics import LATENCY_BUCKETS, RATE_BUCKETS

router = APIRouter(tags=["metrics"])

OPEN_CASES = [status for status in CaseStatus if status in OPEN_CASE_STATUSES]
NOT_CLOSED_CASES = [status for status in CaseStatus if status in NOT_CLOSED_CASE_STATUSES]
"""The lifecycle's sets in the statuses' order, the order the gauges list them in."""
CASE_ENDINGS = {
    "case.completed": "completed",
    "case.failed": "failed",
    "case.rejected": "rejected",
    "case.cancelled": "cancelled",
}
COUNTED_KINDS = ("case.created", "case.resumed", "step.started", "step.finished", *CASE_ENDINGS)
CHUNK_ENTRIES = 20_000
"""Audit entries one query sums at most (about 0.2 s on a small machine)."""
CATCH_UP_S = 2.0
"""A scrape sends no further query after this long: a long log is counted over several."""
REDIS_TIMEOUT_S = 1.0


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(
    request: Request, session: SessionDep, settings: SettingsDep, _: ReadMetrics
) -> Response:
    """Queues, nodes, cases, steps, tokens and latencies, for Prometheus (docs/metrics.md)."""
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encode(ControlPlane(session, settings))
    return Response(content=body, headers={"Content-Type": content_type})


class ControlPlane:
    """A prometheus_client collector over one database session, made for one scrape."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        node_rows = nodes.list_nodes(self.session)
        yield from self._nodes(node_rows)
        queues = sorted(node_queue(node.name) for node in node_rows)
        yield from queue_depths(self.settings.effective_redis_url, queues)
        yield from self._cases()
        yield from totals_of(self.session).families()

    def _nodes(self, rows: list[Any]) -> Iterator[Metric]:
        now = utcnow()
        info = _gauge(
            "idara_node_info",
            "A registered node (always 1): its pool, state and what ops asked",
            ["node", "pool", "state", "schedule"],
        )
        ready = _gauge(
            "idara_node_ready",
            "1 while the node's heartbeats arrive (within IDARA_NODE_NOT_READY_AFTER_S)",
            ["node"],
        )
        schedulable = _gauge(
            "idara_node_schedulable", "1 while ops let the node take steps (not cordoned)", ["node"]
        )
        age = _gauge(
            "idara_node_heartbeat_age_seconds", "Seconds since the node's last heartbeat", ["node"]
        )
        running = _gauge(
            "idara_node_running_steps", "Steps the node ran at its last heartbeat", ["node"]
        )
        concurrency = _gauge(
            "idara_node_concurrency", "Worker processes of the node (steps at once)", ["node"]
        )
        serving = _gauge(
            "idara_model_ready_nodes",
            "Nodes that can take a step of this model in this pool now (ready, not cordoned)",
            ["model", "pool"],
        )
        ready_count: dict[tuple[str, str], int] = {}
        for node in rows:
            health = nodes.health_of(node, self.settings, now)
            is_ready = health == Health.ready
            takes = node.schedule == Schedule.active
            info.add_metric(
                [node.name, node.pool, nodes.state_of(node, health), node.schedule.value], 1
            )
            ready.add_metric([node.name], float(is_ready))
            schedulable.add_metric([node.name], float(takes))
            age.add_metric([node.name], (now - utc(node.last_heartbeat_at)).total_seconds())
            running.add_metric([node.name], node.running)
            concurrency.add_metric([node.name], node.concurrency)
            for model in node.models:
                key = (model, node.pool)
                ready_count[key] = ready_count.get(key, 0) + int(is_ready and takes)
        for (model, pool), count in sorted(ready_count.items()):
            serving.add_metric([model, pool], count)
        yield from (info, ready, schedulable, age, running, concurrency, serving)

    def _cases(self) -> Iterator[Metric]:
        cases = _gauge(
            "idara_cases", "Cases that are not final, by status (failed: until resumed)", ["status"]
        )
        counted = dict(
            self.session.exec(
                select(Case.status, func.count())
                .where(col(Case.status).in_(NOT_CLOSED_CASES))
                .group_by(col(Case.status))
            ).all()
        )
        for case_status in NOT_CLOSED_CASES:
            cases.add_metric([case_status.value], counted.get(case_status, 0))
        yield cases
        steps = _gauge(
            "idara_open_steps",
            "Steps of the open cases (queued, running, awaiting approval), by status and kind",
            ["status", "kind"],
        )
        rows = self.session.exec(
            select(CaseStep.status, CaseStep.kind, func.count())
            .join(Case, col(Case.id) == col(CaseStep.case_id))
            .where(col(Case.status).in_(OPEN_CASES))
            .group_by(col(CaseStep.status), col(CaseStep.kind))
        ).all()
        for status, kind, count in sorted(rows):
            steps.add_metric([status, kind], count)
        yield steps


def queue_depths(url: str, queues: list[str]) -> Iterator[Metric]:
    """``idara_redis_up`` and the messages waiting in each queue; never raises for Redis."""
    up = _gauge("idara_redis_up", "1 when the broker (Redis) answered this scrape")
    depth = _gauge(
        "idara_queue_depth",
        "Steps waiting in a node's queue node.<name> (placed there, not yet taken)",
        ["queue"],
    )
    lengths = queue_lengths(url, queues)
    up.add_metric([], 0 if lengths is None else 1)
    yield up
    if lengths is None:
        return
    for queue, length in lengths.items():
        depth.add_metric([queue], length)
    yield depth


def queue_lengths(url: str, queues: list[str]) -> dict[str, int] | None:
    """The messages waiting in each queue, or None when Redis does not answer (never raises)."""
    client = redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )
    try:
        pipe = client.pipeline(transaction=False)
        pipe.ping()
        for queue in queues:
            pipe.llen(queue)
        _, *lengths = pipe.execute()
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()
    return {queue: int(length) for queue, length in zip(queues, lengths, strict=True)}


@dataclass
class Histogram:
    """Per-bucket counts (not cumulative; the last one is above every bound) and their sum."""

    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * (len(self.bounds) + 1)

    def cumulative(self) -> list[tuple[str, float]]:
        buckets, seen = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            seen += count
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(seen)))
        return buckets


HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "idara_step_latency_seconds": (
        "End-to-end latency of succeeded llm steps (sent to a node until its result is stored)",
        LATENCY_BUCKETS,
    ),
    "idara_step_model_seconds": (
        "Model time of succeeded llm steps (prompt and generation on the node)",
        LATENCY_BUCKETS,
    ),
    "idara_step_tokens_per_second": (
        "Generated tokens per second of model time, per succeeded llm step",
        RATE_BUCKETS,
    ),
}


@dataclass
class AuditTotals:
    """What the audit log holds up to entry ``seq``, summed."""

    seq: int = 0
    entry_hash: str = ""
    behind: int = 0
    """Entries appended but not counted yet (the first scrapes of a long log)."""
    counters: dict[tuple[str, tuple[str, ...]], float] = field(default_factory=dict)
    histograms: dict[tuple[str, str], Histogram] = field(default_factory=dict)

    def add(self, name: str, labels: tuple[str, ...], amount: float) -> None:
        self.counters[(name, labels)] = self.counters.get((name, labels), 0.0) + amount

    def families(self) -> Iterator[Metric]:
        """The counters and histograms, once the whole log is counted: partial sums rising
        over a few scrapes would read as a burst of activity, whereas a series that starts
        late at its full value reads right (rates start from its second sample)."""
        yield _gauge(
            "idara_audit_entries_uncounted",
            "Audit entries not yet summed into the counters (they are left out until 0)",
            value=self.behind,
        )
        if self.behind:
            return
        counters = {
            "idara_cases_filed": _counter("idara_cases_filed", "Cases filed", []),
            "idara_cases_resumed": _counter(
                "idara_cases_resumed", "Failed cases resumed from their failed step", []
            ),
            "idara_cases_finished": _counter(
                "idara_cases_finished",
                "Case runs that ended: completed, failed, rejected or cancelled",
                ["status"],
            ),
            "idara_steps_started": _counter(
                "idara_steps_started",
                "Step attempts started, by step kind and model",
                ["kind", "model"],
            ),
            "idara_steps_finished": _counter(
                "idara_steps_finished",
                "Steps that ended, by kind, model and status (succeeded, failed, skipped...)",
                ["kind", "model", "status"],
            ),
            "idara_step_prompt_tokens": _counter(
                "idara_step_prompt_tokens", "Prompt tokens of succeeded llm steps", ["model"]
            ),
            "idara_step_generated_tokens": _counter(
                "idara_step_generated_tokens", "Tokens generated by succeeded llm steps", ["model"]
            ),
        }
        for name in ("idara_cases_filed", "idara_cases_resumed"):  # present from the start
            counters[name].add_metric([], self.counters.get((name, ()), 0.0))
        for (name, labels), value in sorted(self.counters.items()):
            if labels:
                counters[name].add_metric(list(labels), value)
        yield from counters.values()
        for name, (documentation, _) in HISTOGRAMS.items():
            family = HistogramMetricFamily(name, documentation, labels=["model"])
            for (hist_name, model), histogram in sorted(self.histograms.items()):
                if hist_name == name:
                    family.add_metric(
                        [model], buckets=histogram.cumulative(), sum_value=histogram.total
                    )
            yield family


_totals: dict[str, AuditTotals] = {}
_totals_lock = threading.Lock()


def totals_of(session: Session) -> AuditTotals:
    """A copy of this process's sums over the audit log of the session's database, brought up
    to date with the entries appended since the last scrape (see the module's docstring), at
    most ``CHUNK_ENTRIES`` per query and, past ``CATCH_UP_S``, no further query: a long log is
    counted over several scrapes."""
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    with _totals_lock:
        totals = _totals.get(key) or AuditTotals()
        head = session.exec(select(AuditHead.seq, AuditHead.entry_hash)).first()
        head_seq, head_hash = head if head is not None else (0, "")
        if totals.seq and _hash_at(session, totals.seq) != totals.entry_hash:
            totals = AuditTotals()  # another log than the one counted: count it again
        deadline = time.monotonic() + CATCH_UP_S
        while totals.seq < head_seq:
            upper = min(head_seq, totals.seq + CHUNK_ENTRIES)
            _count(session, totals, totals.seq, upper)
            totals.seq = upper
            totals.entry_hash = head_hash if upper == head_seq else _hash_at(session, upper) or ""
            if time.monotonic() >= deadline:
                break
        totals.behind = head_seq - totals.seq
        _totals[key] = totals
        return copy.deepcopy(totals)  # another scrape may add to it while this one writes


def _hash_at(session: Session, seq: int) -> str | None:
    return session.exec(select(AuditEntry.entry_hash).where(AuditEntry.seq == seq)).first()


def _count(session: Session, totals: AuditTotals, low: int, high: int) -> None:
    """Add the entries ``low < seq <= high`` to ``totals``: one scan of the range, summed and
    bucketed in the database. Each entry's JSON is parsed once (PostgreSQL stores it as
    ``json`` text, so it is cast to ``jsonb`` once per row rather than parsed by every
    ``->>``); ``OFFSET 0`` keeps each level from being merged into the next, which would
    repeat the extraction for every reference."""
    data: Any = col(AuditEntry.data)
    if session.get_bind().dialect.name == "postgresql":
        data = cast(data, JSONB)
    raw = (
        core_select(
            col(AuditEntry.kind).label("kind"),
            col(AuditEntry.model).label("model"),
            data.label("d"),
        )
        .where(
            col(AuditEntry.seq) > low,
            col(AuditEntry.seq) <= high,
            col(AuditEntry.kind).in_(COUNTED_KINDS),
        )
        .offset(0)
        .subquery("raw")
    )
    d = raw.c.d
    fields = (
        core_select(
            raw.c.kind,
            raw.c.model,
            d["step_kind"].as_string().label("step_kind"),
            d["status"].as_string().label("status"),
            d["prompt_tokens"].as_float().label("prompt_tokens"),
            d["completion_tokens"].as_float().label("generated"),
            (d["latency_ms"].as_float() / 1000.0).label("latency"),
            (d["model_ms"].as_float() / 1000.0).label("model_s"),
        )
        .offset(0)
        .subquery("fields")
    )
    f = fields.c
    observed = (f.kind == "step.finished") & (f.step_kind == "llm") & (f.status == "succeeded")
    rate = f.generated / func.nullif(f.model_s, 0.0, type_=Float)
    bucketed = core_select(
        f.kind,
        f.model,
        f.step_kind,
        f.status,
        f.prompt_tokens,
        f.generated,
        case((observed, f.latency), else_=None).label("latency"),
        case((observed, f.model_s), else_=None).label("model_s"),
        case((observed, rate), else_=None).label("rate"),
        *(
            _bucket(observed, value, HISTOGRAMS[name][1]).label(f"b{i}")
            for i, (name, value) in enumerate(
                zip(HISTOGRAMS, (f.latency, f.model_s, rate), strict=True)
            )
        ),
    ).subquery("bucketed")
    b = bucketed.c
    keys = (b.kind, b.step_kind, b.status, b.model, b.b0, b.b1, b.b2)
    sums = (b.prompt_tokens, b.generated, b.latency, b.model_s, b.rate)
    grouped = core_select(*keys, func.count(), *(func.sum(v) for v in sums)).group_by(*keys)
    for row in session.execute(grouped):
        kind, step_kind, status, model, *buckets, count, prompt, generated = row[:10]
        model, count = model or "", int(count)
        if kind == "case.created":
            totals.add("idara_cases_filed", (), count)
        elif kind == "case.resumed":
            totals.add("idara_cases_resumed", (), count)
        elif kind in CASE_ENDINGS:
            totals.add("idara_cases_finished", (CASE_ENDINGS[kind],), count)
        elif kind == "step.started":
            totals.add("idara_steps_started", (step_kind or "", model), count)
        else:
            totals.add("idara_steps_finished", (step_kind or "", model, status or ""), count)
            if prompt or generated:
                totals.add("idara_step_prompt_tokens", (model,), float(prompt or 0))
                totals.add("idara_step_generated_tokens", (model,), float(generated or 0))
        for name, index, total in zip(HISTOGRAMS, buckets, row[10:], strict=True):
            if index is not None:
                histogram = totals.histograms.setdefault(
                    (name, model), Histogram(HISTOGRAMS[name][1])
                )
                histogram.counts[int(index)] += count
                histogram.total += float(total or 0.0)


def _bucket(
    observed: ColumnElement[bool], value: ColumnElement[Any], bounds: tuple[float, ...]
) -> ColumnElement[Any]:
    """The index of ``value``'s bucket (``len(bounds)`` above the last), or NULL when the entry
    is not observed by the histograms or has no value."""
    return case(
        (~observed | value.is_(None), None),
        *((value <= bound, i) for i, bound in enumerate(bounds)),
        else_=len(bounds),
    )


def _gauge(
    name: str, documentation: str, labels: list[str] | None = None, value: float | None = None
) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels, value=value)


def _counter(name: str, documentation: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, labels=labels)
