"""Overload (issue 9, item 4): every submission is accepted and later completed exactly once, or
refused with 429/503 and a Retry-After; never a 5xx, never lost, and the API's memory stays
bounded.

The fast tests check the pieces (the queue-depth refusal on SQLite and PostgreSQL, the
admission middleware's limits); the slow one floods a real stack with 1,000 concurrent
submissions over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session
from starlette.types import Message, Receive, Scope, Send

from orchestrator.admission import AdmissionMiddleware
from orchestrator.db import make_engine, session_scope
from orchestrator.procedures.service import parse_definition, publish
from orchestrator.seeding import prepare_database
from orchestrator.settings import Settings, get_settings
from orchestrator.stack import Stack
from tests.conftest import free_port
from tests.orchestrator.conftest import signed_in

BODY = {"procedure": "citizen-request-triage", "text": "Je demande un extrait.", "language": "fr"}


def _queued_limit(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    monkeypatch.setenv("IDARA_MAX_QUEUED_CASES", str(limit))
    get_settings.cache_clear()


def _count(table: str) -> int:
    with session_scope() as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_full_queue_refuses_filings_with_503_and_retry_after(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queued_limit(monkeypatch, 3)
    first = api.post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": "k-0"})
    for i in range(1, 3):
        assert api.post("/api/v1/cases", json={**BODY, "text": f"demande {i}"}).status_code == 201
    cases, entries = _count("cases"), _count("audit_entries")
    refused = api.post("/api/v1/cases", json={**BODY, "text": "une de trop"})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    assert refused.json() == {
        "detail": "3 cases are waiting for the engine (the limit is 3); retry after 5 s",
        "retry_after_s": 5,
    }
    assert (_count("cases"), _count("audit_entries")) == (cases, entries)
    replay = api.post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": "k-0"})
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    bad = api.post("/api/v1/cases", json={**BODY, "text": "\x00"})
    assert bad.status_code == 422  # bad input is told so at once, not asked to come back
    api.post(f"/api/v1/cases/{first.json()['id']}/cancel")
    assert api.post("/api/v1/cases", json={**BODY, "text": "la suivante"}).status_code == 201


def test_an_idempotent_retry_answers_the_first_case_even_when_the_queue_is_full(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queued_limit(monkeypatch, 1)
    first = api.post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": "only"})
    assert first.status_code == 201
    again = api.post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": "only"})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    other = api.post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": "other"})
    assert other.status_code == 503 and other.headers["Retry-After"] == "5"
    assert _count("cases") == 1


class _Gate:
    """An app that holds every request until released, counting how many it got."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered += 1
        while (await receive()).get("more_body"):
            pass
        await self.open.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_requests_beyond_the_in_flight_limit_get_503_at_once_and_healthz_still_answers() -> None:
    async def scenario() -> None:
        gate = _Gate()
        admission = AdmissionMiddleware(gate, max_body_bytes=1024, max_inflight=2, retry_after_s=7)
        transport = httpx.ASGITransport(app=admission)
        async with httpx.AsyncClient(transport=transport, base_url="http://idara") as client:
            held = [asyncio.create_task(client.get("/api/v1/cases")) for _ in range(2)]
            while gate.entered < 2:
                await asyncio.sleep(0.01)
            busy = await client.post("/api/v1/cases", content=b"{}")
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "7"
            assert busy.json() == {
                "detail": "the API is busy (2 requests in progress); retry after 7 s",
                "retry_after_s": 7,
            }
            assert gate.entered == 2  # the refused request never reached the app
            health = asyncio.create_task(client.get("/healthz"))
            while gate.entered < 3:
                await asyncio.sleep(0.01)
            gate.open.set()
            assert [r.status_code for r in await asyncio.gather(*held, health)] == [200] * 3
            assert admission.inflight == 0
            assert (await client.get("/api/v1/cases")).status_code == 200

    asyncio.run(scenario())


def test_a_declared_oversized_body_is_refused_without_reading_it() -> None:
    sent: list[Message] = []
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 4096, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    async def never(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not run")

    admission = AdmissionMiddleware(never, max_body_bytes=1024, max_inflight=2, retry_after_s=5)
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/cases",
        "headers": [(b"content-length", b"2000000000")],
    }
    asyncio.run(admission(scope, receive, send))
    assert reads == 0 and admission.inflight == 0
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {
        "detail": "the request body is 2000000000 bytes; the limit is 1024",
        "limit": 1024,
    }


def test_a_streamed_body_is_refused_once_it_passes_the_limit() -> None:
    sent: list[Message] = []
    reads = 0

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 400, "more_body": True}  # endless

    async def send(message: Message) -> None:
        sent.append(message)

    async def reader(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass

    admission = AdmissionMiddleware(reader, max_body_bytes=1024, max_inflight=2, retry_after_s=5)
    scope: Scope = {"type": "http", "method": "POST", "path": "/api/v1/cases", "headers": []}
    asyncio.run(admission(scope, receive, send))
    assert reads == 3  # 1,200 bytes: one chunk past the limit, not one more
    assert sent[0]["status"] == 413 and admission.inflight == 0
    assert json.loads(sent[1]["body"])["detail"] == (
        "the request body is over 1024 bytes; the limit is 1024"
    )


# --- the flood, on a real stack --------------------------------------------------------------

SUBMISSIONS = 1000
ATTEMPTS = 2
MAX_QUEUED = 100
MAX_INFLIGHT = 32
RSS_GROWTH_LIMIT_MB = 150
PROCEDURE = """\
name: overload-check
version: 1
title: Overload check (rules and tools only, no model)
steps:
  - name: fee
    kind: tool
    tool: compute_fee
    args: {schedule: business-licence, activity: restaurant, surface_m2: 80}
  - name: check
    kind: rule
    checks:
      - path: outputs.fee.fee_mad
        minimum: 1
        message: The fee must be positive.
"""


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Redis, Prefect, the API and the engine on SQLite, and no model worker. The admission
    settings are not among those Stack.env() exports, so they reach the API through the
    environment the children inherit. The flood comes from one clerk, so the per-user rate
    limit (tested in tests/orchestrator/auth) is lifted: this test is about the node-wide ones."""
    monkeypatch.setenv("IDARA_SUBMISSIONS_PER_MINUTE", "1000000")
    monkeypatch.setenv("IDARA_MAX_QUEUED_CASES", str(MAX_QUEUED))
    monkeypatch.setenv("IDARA_MAX_INFLIGHT_REQUESTS", str(MAX_INFLIGHT))
    settings = Settings(
        data_dir=tmp_path / "stack",
        redis_port=free_port(),
        prefect_port=free_port(),
        api_port=free_port(),
        node_name="node-overload",
    )
    assert (settings.max_queued_cases, settings.max_inflight_requests) == (MAX_QUEUED, MAX_INFLIGHT)
    running = Stack(settings, models=[])
    try:
        running.start_redis()
        running.start_prefect()
        prepare_database(settings)
        engine = make_engine(settings.effective_database_url)
        with Session(engine) as session:
            publish(session, parse_definition(PROCEDURE, "overload-check.yaml"))
        engine.dispose()
        running.start_api()
        running.start_engine()
        yield running
    finally:
        running.stop()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def _flood(
    base_url: str, api_pid: int, headers: dict[str, str]
) -> tuple[list[list[tuple[int, Any]]], float]:
    """Fire every submission at once; a refused one comes back once after its Retry-After
    (spread by up to 2 s), with the same Idempotency-Key, as a client would. Return the answers
    (status, Retry-After and body, or the transport error) of each submission's attempts, and
    the peak RSS of the API process seen meanwhile."""
    peak = _rss_mb(api_pid)
    done = asyncio.Event()

    async def watch_memory() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss_mb(api_pid))
            await asyncio.sleep(0.1)

    limits = httpx.Limits(max_connections=SUBMISSIONS, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=httpx.Timeout(120), headers=headers
    ) as client:

        async def attempt(body: dict[str, Any], key: str) -> tuple[int, Any]:
            try:
                response = await client.post(
                    "/api/v1/cases", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError as exc:
                return 0, repr(exc)
            try:
                answer = response.json()
            except ValueError:
                answer = response.text
            return response.status_code, (response.headers.get("Retry-After"), answer)

        async def submit(i: int) -> list[tuple[int, Any]]:
            body = {**BODY, "procedure": "overload-check", "text": f"Demande numéro {i}."}
            key = f"flood-{i}-{uuid.uuid4()}"
            answers = [await attempt(body, key)]
            for _ in range(ATTEMPTS - 1):
                status, answer = answers[-1]
                if status not in (429, 503) or not answer[0]:
                    break
                await asyncio.sleep(int(answer[0]) + random.uniform(0, 2))
                answers.append(await attempt(body, key))
            return answers

        watcher = asyncio.create_task(watch_memory())
        results = await asyncio.gather(*(submit(i) for i in range(SUBMISSIONS)))
        done.set()
        await watcher
    return list(results), peak


def clerk(stack: Stack) -> dict[str, str]:
    return signed_in(stack.settings, "amina")


def _wait_completed(stack: Stack, expected: set[str], timeout_s: float) -> set[str]:
    """Poll the API until every accepted case has completed (or something else ended it)."""
    url = f"{stack.settings.api_base_url}/api/v1/cases"
    deadline = time.monotonic() + timeout_s
    while True:
        stack.check_alive()
        settled: dict[str, str] = {}
        for status in ("completed", "failed", "cancelled", "rejected"):
            params = {"procedure": "overload-check", "status": status, "limit": 500}
            answer = httpx.get(url, params=params, headers=clerk(stack), timeout=30)
            for item in answer.json()["items"]:
                settled[item["id"]] = status
        if set(settled) >= expected or time.monotonic() > deadline:
            return {case_id for case_id, status in settled.items() if status == "completed"}
        time.sleep(1)


@pytest.mark.slow
def test_a_thousand_concurrent_submissions_are_accepted_and_completed_or_refused_to_retry(
    stack: Stack,
) -> None:
    base_url = stack.settings.api_base_url
    api_pid = next(s.process.pid for s in stack.services if s.name == "api")
    for _ in range(5):  # warm up: imports, connection pool, first queries
        listed = httpx.get(f"{base_url}/api/v1/cases", headers=clerk(stack), timeout=30)
        assert listed.status_code == 200
    rss_before = _rss_mb(api_pid)
    started = time.monotonic()
    results, rss_peak = asyncio.run(_flood(base_url, api_pid, clerk(stack)))
    flood_s = time.monotonic() - started
    rss_after = _rss_mb(api_pid)

    answers = [answer for attempts in results for answer in attempts]
    statuses = Counter(status for status, _ in answers)
    accepted = {body["id"] for status, (_, body) in answers if status == 201}
    refusals = [(status, answer) for status, answer in answers if status in (429, 503)]
    busy = sum("the API is busy" in body["detail"] for _, (_, body) in refusals)
    errors = [(s, answer) for s, answer in answers if s == 0 or (s >= 500 and s != 503)]
    on_retry = sum(attempts[-1][0] == 201 for attempts in results if len(attempts) > 1)
    completed = _wait_completed(stack, accepted, timeout_s=240)
    total_s = time.monotonic() - started

    engine = make_engine(stack.settings.effective_database_url)
    try:
        with engine.connect() as connection:
            stored = {
                row[0]
                for row in connection.execute(
                    text("SELECT id FROM cases WHERE procedure_name = 'overload-check'")
                )
            }
            endings = Counter(
                row[0]
                for row in connection.execute(
                    text("SELECT case_id FROM audit_entries WHERE kind = 'case.completed'")
                )
            )
    finally:
        engine.dispose()
    duplicates = sum(count - 1 for count in endings.values() if count > 1)
    figures = {
        "test": "overload",
        "submitted": SUBMISSIONS,
        "attempts": len(answers),
        "accepted": len(accepted),
        "accepted_on_retry": on_retry,
        "refused_in_the_end": sum(attempts[-1][0] != 201 for attempts in results),
        "refused_503": statuses[503],
        "refused_503_busy": busy,
        "refused_503_queue_full": statuses[503] - busy,
        "refused_429": statuses[429],
        "other_5xx_or_no_answer": len(errors),
        "completed": len(completed),
        "duplicates": duplicates,
        "lost": len(accepted - completed),
        "max_queued_cases": MAX_QUEUED,
        "max_inflight_requests": MAX_INFLIGHT,
        "rss_before_mb": round(rss_before, 1),
        "rss_peak_mb": round(rss_peak, 1),
        "rss_after_mb": round(rss_after, 1),
        "flood_s": round(flood_s, 1),
        "until_all_completed_s": round(total_s, 1),
    }
    print("\noverload figures:", json.dumps(figures))
    if os.environ.get("IDARA_BENCH_OUT"):
        with Path(os.environ["IDARA_BENCH_OUT"]).open("a", encoding="utf-8") as out:
            out.write(json.dumps(figures) + "\n")

    assert not errors, errors[:5]
    assert set(statuses) <= {201, 429, 503}, statuses
    assert all(retry_after == "5" for _, (retry_after, _) in refusals)
    assert accepted and refusals  # the limits were reached, and work still got through
    assert stored == accepted  # no refused submission left a case behind
    assert completed == accepted
    assert all(endings[case_id] == 1 for case_id in accepted)
    assert duplicates == 0
    assert rss_peak - rss_before < RSS_GROWTH_LIMIT_MB
