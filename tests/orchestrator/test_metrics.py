"""``GET /metrics`` as Prometheus reads it: who may scrape it, the nodes, queues, cases and
steps it shows, and counters summed from the audit log that only ever grow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from sqlmodel import Session, col, select

from orchestrator import metrics
from orchestrator.audit.models import AuditHead
from orchestrator.cases.models import Case, CaseStep
from orchestrator.db import get_engine, session_scope, utcnow
from orchestrator.engine import state
from orchestrator.nodes import service
from orchestrator.nodes.models import Node
from tests.orchestrator.conftest import NOBODY, as_user

OPS = "nadia"
MODEL = "smollm2-135m"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(api: TestClient) -> Samples:
    answer = api.get("/metrics", headers=as_user(OPS))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def _node_headers() -> dict[str, str]:
    with Session(get_engine()) as session:
        _, token = service.create_join_token(session, "metrics", "test")
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def _register(api: TestClient, node: dict[str, str], name: str, **extra: Any) -> None:
    body = {"name": name, "models": [MODEL], "concurrency": 2, **extra}
    answer = api.post("/api/v1/nodes/register", json=body, headers=node)
    assert answer.status_code == 200, answer.text


def test_only_ops_may_scrape(api: TestClient) -> None:
    anonymous = api.get("/metrics", headers=NOBODY)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    clerk = api.get("/metrics")  # amina
    assert clerk.status_code == 403 and "read_metrics" in clerk.json()["detail"]
    assert api.get("/metrics", headers=_node_headers()).status_code == 403  # a join token
    assert api.get("/metrics", headers=as_user("omar")).status_code == 403  # an auditor
    assert api.get("/metrics", headers=as_user(OPS)).status_code == 200


def test_openmetrics_when_asked(api: TestClient) -> None:
    headers = {**as_user(OPS), "Accept": "application/openmetrics-text; version=1.0.0"}
    answer = api.get("/metrics", headers=headers)
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")


def test_nodes_with_their_state_and_no_redis(api: TestClient) -> None:
    node = _node_headers()
    _register(api, node, "gpu-1")
    _register(api, node, "gpu-2")
    _register(api, node, "edge-1", pool="edge", concurrency=1)
    beat = api.post("/api/v1/nodes/gpu-1/heartbeat", json={"running": 1}, headers=node)
    assert beat.status_code == 200
    assert api.post("/api/v1/nodes/gpu-2/cordon", headers=as_user(OPS)).status_code == 200
    with Session(get_engine()) as session:  # edge-1 stopped beating a minute ago
        row = session.get(Node, "edge-1")
        assert row is not None
        row.last_heartbeat_at = utcnow() - timedelta(seconds=60)
        session.add(row)
        session.commit()

    samples = scrape(api)
    ready = {n: value(samples, "idara_node_ready", node=n) for n in ("gpu-1", "gpu-2", "edge-1")}
    assert ready == {"gpu-1": 1.0, "gpu-2": 1.0, "edge-1": 0.0}
    assert value(samples, "idara_node_schedulable", node="gpu-1") == 1.0
    assert value(samples, "idara_node_schedulable", node="gpu-2") == 0.0
    assert value(samples, "idara_node_running_steps", node="gpu-1") == 1.0
    assert value(samples, "idara_node_concurrency", node="edge-1") == 1.0
    assert 60 <= (value(samples, "idara_node_heartbeat_age_seconds", node="edge-1") or 0) < 90
    assert (value(samples, "idara_node_heartbeat_age_seconds", node="gpu-1") or 99) < 30
    info = {"node": "gpu-2", "pool": "default", "state": "cordoned", "schedule": "cordoned"}
    assert value(samples, "idara_node_info", **info) == 1.0
    info = {"node": "edge-1", "pool": "edge", "state": "not_ready", "schedule": "active"}
    assert value(samples, "idara_node_info", **info) == 1.0
    # only gpu-1 can take a step of the model in the default pool; none in the edge pool
    assert value(samples, "idara_model_ready_nodes", model=MODEL, pool="default") == 1.0
    assert value(samples, "idara_model_ready_nodes", model=MODEL, pool="edge") == 0.0
    # the api fixture runs no Redis: the scrape still answers, without queue depths
    assert value(samples, "idara_redis_up") == 0.0
    assert "idara_queue_depth" not in names(samples)


def _file(api: TestClient) -> str:
    body = {"procedure": "citizen-request-triage", "text": "Un extrait.", "language": "fr"}
    answer = api.post("/api/v1/cases", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _llm_steps(case_id: str) -> list[CaseStep]:
    with session_scope() as session:
        return list(
            session.exec(
                select(CaseStep)
                .where(CaseStep.case_id == case_id, CaseStep.kind == "llm")
                .order_by(col(CaseStep.position))
            ).all()
        )


def _run_like_the_engine(case_id: str, steps: list[CaseStep]) -> None:
    """Claim the case, then one llm step succeeds (40 tokens in 0.8 s, 1.5 s end to end) and
    the next fails, written as the engine writes them."""
    ok, failing = steps[0], steps[1]
    assert ok.id is not None and failing.id is not None
    with session_scope() as session:
        assert state.claim_due_cases(session, 10) == [(case_id, _reference(session, case_id))]
        case = session.get(Case, case_id)
        assert case is not None
        state.record_step_started(session, case, ok.id, 1)
        state.set_step(
            session,
            ok.id,
            finished=True,
            status="succeeded",
            output={"department": "civil-status"},
            prompt_tokens=300,
            completion_tokens=40,
            model_ms=800.0,
            tokens_per_s=50.0,
            latency_ms=1500.0,
            finished_at=utcnow(),
        )
        state.record_step_started(session, case, failing.id, 1)
        state.mark_step_failed(session, failing, "the answer did not match its schema")


def _reference(session: Session, case_id: str) -> str:
    case = session.get(Case, case_id)
    assert case is not None
    return case.reference


def test_cases_steps_tokens_and_latency(api: TestClient) -> None:
    before = scrape(api)
    assert value(before, "idara_cases_filed_total") == 0.0
    case_id = _file(api)

    filed = scrape(api)
    assert value(filed, "idara_cases", status="queued") == 1.0
    assert value(filed, "idara_cases", status="running") == 0.0
    assert value(filed, "idara_open_steps", status="pending", kind="llm") == 3.0
    assert value(filed, "idara_open_steps", status="pending", kind="deliver") == 1.0
    assert value(filed, "idara_cases_filed_total") == 1.0

    _run_like_the_engine(case_id, _llm_steps(case_id))
    ran = scrape(api)
    assert value(ran, "idara_cases", status="queued") == 0.0
    assert value(ran, "idara_cases", status="running") == 1.0
    assert value(ran, "idara_open_steps", status="succeeded", kind="llm") == 1.0
    assert value(ran, "idara_open_steps", status="failed", kind="llm") == 1.0
    assert value(ran, "idara_steps_started_total", kind="llm", model=MODEL) == 2.0
    llm = {"kind": "llm", "model": MODEL}
    assert value(ran, "idara_steps_finished_total", **llm, status="succeeded") == 1.0
    assert value(ran, "idara_steps_finished_total", **llm, status="failed") == 1.0
    assert value(ran, "idara_step_prompt_tokens_total", model=MODEL) == 300.0
    assert value(ran, "idara_step_generated_tokens_total", model=MODEL) == 40.0
    latency = "idara_step_latency_seconds_bucket"
    assert value(ran, latency, model=MODEL, le="1.0") == 0.0
    assert value(ran, latency, model=MODEL, le="2.5") == 1.0
    assert value(ran, latency, model=MODEL, le="+Inf") == 1.0
    assert value(ran, "idara_step_latency_seconds_sum", model=MODEL) == 1.5
    assert value(ran, "idara_step_latency_seconds_count", model=MODEL) == 1.0
    assert value(ran, "idara_step_model_seconds_bucket", model=MODEL, le="0.5") == 0.0
    assert value(ran, "idara_step_model_seconds_bucket", model=MODEL, le="1.0") == 1.0
    rate = "idara_step_tokens_per_second_bucket"
    assert value(ran, rate, model=MODEL, le="40.0") == 0.0  # 40 tokens / 0.8 s = 50 per s
    assert value(ran, rate, model=MODEL, le="80.0") == 1.0
    assert value(ran, "idara_step_tokens_per_second_sum", model=MODEL) == 50.0

    # a scrape counts only what was appended since the last one: nothing twice
    again = scrape(api)
    counters = {key: v for key, v in ran.items() if key[0].endswith(("_total", "_count"))}
    assert {key: again[key] for key in counters} == counters


def test_counters_never_decrease_when_rows_change(api: TestClient) -> None:
    """A resumed case puts its failed step back to pending: the gauges follow the rows, the
    counters (from the append-only audit log) keep what happened."""
    case_id = _file(api)
    _run_like_the_engine(case_id, _llm_steps(case_id))
    with session_scope() as session:
        state.fail_case(session, case_id, "the answer did not match its schema")
    failed = scrape(api)
    assert value(failed, "idara_cases", status="failed") == 1.0
    assert value(failed, "idara_cases_finished_total", status="failed") == 1.0

    assert api.post(f"/api/v1/cases/{case_id}/resume").status_code == 200
    resumed = scrape(api)
    assert value(resumed, "idara_cases", status="failed") == 0.0
    assert value(resumed, "idara_cases", status="queued") == 1.0
    assert value(resumed, "idara_open_steps", status="failed", kind="llm") is None
    assert value(resumed, "idara_cases_resumed_total") == 1.0
    assert value(resumed, "idara_cases_finished_total", status="failed") == 1.0
    finished = {"kind": "llm", "model": MODEL, "status": "failed"}
    assert value(resumed, "idara_steps_finished_total", **finished) == 1.0


def test_a_scrape_reads_the_audit_log_from_where_the_last_one_stopped(api: TestClient) -> None:
    _file(api)
    scrape(api)
    with session_scope() as session:
        head = session.exec(select(AuditHead.seq)).one()
    _file(api)
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(get_engine(), "before_cursor_execute", seen)
    try:
        samples = scrape(api)
    finally:
        event.remove(get_engine(), "before_cursor_execute", seen)
    assert value(samples, "idara_cases_filed_total") == 2.0
    ranged = [params for sql, params in statements if "audit_entries.seq >" in sql]
    assert ranged, "no ranged read of the audit log"
    for params in ranged:  # each starts at the head the previous scrape reached
        assert head in (params.values() if isinstance(params, dict) else params)
    assert not any(" FROM case_steps" in sql and "JOIN cases" not in sql for sql, _ in statements)


def test_a_long_log_is_counted_over_several_scrapes_before_the_counters_show(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One entry per query and no time to spare: each scrape counts one entry, and the
    counters are left out until the whole log is counted, then show its full sums."""
    _file(api)
    _file(api)
    monkeypatch.setattr(metrics, "CHUNK_ENTRIES", 1)
    monkeypatch.setattr(metrics, "CATCH_UP_S", 0.0)
    behind = []
    while True:
        samples = scrape(api)
        behind.append(value(samples, "idara_audit_entries_uncounted"))
        if behind[-1] == 0.0:
            break
        assert "idara_cases_filed_total" not in names(samples)
        assert value(samples, "idara_cases", status="queued") == 2.0  # gauges do not wait
        assert len(behind) < 100
    assert len(behind) > 2 and behind == sorted(behind, reverse=True)
    assert value(samples, "idara_cases_filed_total") == 2.0
    _file(api)
    assert value(scrape(api), "idara_cases_filed_total") == 3.0
