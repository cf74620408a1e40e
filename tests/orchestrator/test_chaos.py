"""Chaos: faults injected into a real stack (PostgreSQL, Redis, Prefect, a node on the real
model) while cases run. After each fault every accepted case completes, exactly once: one
``case.completed`` entry per case and one successful ``step.finished`` per step in the audit
log, and every delivered letter is there once.

Each test prints its figures (submitted, completed, duplicates, lost) for docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rich.console import Console
from sqlalchemy import create_engine, text

from orchestrator.procedures.schemas import ProcedureDefinition
from orchestrator.settings import Settings
from orchestrator.stack import DEFAULT_MODEL, Stack, start_stack
from tests.conftest import _create_database, _drop_database, free_port
from tests.orchestrator.conftest import signed_in
from tests.orchestrator.test_end_to_end import publish_on
from workers.settings import SEEDS_DIR

pytestmark = pytest.mark.slow

PROCEDURE = "chaos-triage"
STEPS = ["classify", "extract", "draft_acknowledgement", "deliver"]
SAMPLES = sorted((SEEDS_DIR / "requests").glob("0[123]-*.json"))
REDISPATCH_AFTER_S = "4"


def _procedure() -> ProcedureDefinition:
    """The seed triage without its approval: a case runs to its delivered letter alone."""
    raw = yaml.safe_load((SEEDS_DIR / "procedures" / "citizen-request-triage.yaml").read_text())
    raw.update(name=PROCEDURE, version=1)
    raw["steps"] = [step for step in raw["steps"] if step["kind"] != "human_approval"]
    return ProcedureDefinition.model_validate(raw)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    server = os.environ.get("IDARA_TEST_POSTGRES_URL")
    if not server:
        if os.environ.get("CI"):
            pytest.fail("IDARA_TEST_POSTGRES_URL must be set under CI")
        pytest.skip("set IDARA_TEST_POSTGRES_URL: the chaos tests drop database connections")
    url, name = _create_database(server)
    # These reach every child process. The 48 racing filings come from one clerk: the per-user
    # rate limit is not what these tests are about.
    chaos_env = {
        "IDARA_REDISPATCH_AFTER_S": REDISPATCH_AFTER_S,
        "IDARA_SUBMISSIONS_PER_MINUTE": "1000000",
    }
    previous = {key: os.environ.get(key) for key in chaos_env}
    os.environ.update(chaos_env)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("stack-chaos"),
        database_url=url,
        redis_port=free_port(),
        prefect_port=free_port(),
        api_port=free_port(),
        node_name="node-chaos",
        step_timeout_s=300,
    )
    try:
        stack = start_stack(settings, [DEFAULT_MODEL], Console(quiet=True))
        try:
            publish_on(stack, _procedure())
            yield stack
        finally:
            stack.stop()
    finally:
        _drop_database(server, name)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _api(stack: Stack) -> str:
    return stack.settings.api_base_url


def _clerk(stack: Stack) -> dict[str, str]:
    return signed_in(stack.settings, "amina")


def _submit(stack: Stack, count: int, label: str) -> list[str]:
    ids = []
    for n in range(count):
        body = json.loads(SAMPLES[n % len(SAMPLES)].read_text(encoding="utf-8"))
        body["procedure"] = PROCEDURE
        response = httpx.post(
            f"{_api(stack)}/api/v1/cases",
            json=body,
            headers={"Idempotency-Key": f"{label}-{n}", **_clerk(stack)},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def _cases(stack: Stack, ids: list[str]) -> list[dict[str, Any]]:
    return [
        httpx.get(f"{_api(stack)}/api/v1/cases/{i}", headers=_clerk(stack), timeout=10).json()
        for i in ids
    ]


def _wait_for_a_running_step(stack: Stack, ids: list[str], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        steps = [s for case in _cases(stack, ids) for s in case["steps"]]
        if any(s["status"] == "running" and s["kind"] == "llm" for s in steps):
            return
        time.sleep(0.2)
    raise AssertionError("no agent step started")


def _wait_settled(stack: Stack, ids: list[str], timeout_s: float = 420) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    cases: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            cases = _cases(stack, ids)
        except httpx.HTTPError:  # the API is being restarted
            time.sleep(0.5)
            continue
        if all(case["status"] in {"completed", "failed", "cancelled"} for case in cases):
            return cases
        time.sleep(0.5)
    raise AssertionError(
        f"not settled after {timeout_s} s: {[(c['reference'], c['status_detail']) for c in cases]}"
    )


def _duplicates(stack: Stack, ids: list[str]) -> int:
    """Results written more than once, as the audit log tells: a case completed twice, or a
    step that succeeded twice."""
    engine = create_engine(stack.settings.effective_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT case_id, kind, data->>'step', count(*) FROM audit_entries "
                    "WHERE (kind = 'case.completed' OR (kind = 'step.finished' "
                    "AND data->>'status' = 'succeeded')) GROUP BY 1, 2, 3"
                )
            ).all()
    finally:
        engine.dispose()
    counts = {(case_id, kind, step): n for case_id, kind, step, n in rows if case_id in ids}
    for case_id in ids:
        assert (case_id, "case.completed", None) in counts, f"no case.completed for {case_id}"
        for step in STEPS:
            assert (case_id, "step.finished", step) in counts, f"no {step} result for {case_id}"
    return sum(n - 1 for n in counts.values())


def _run_with_fault(
    stack: Stack, label: str, fault: Callable[[], None], cases: int = 4
) -> dict[str, Any]:
    started = time.monotonic()
    ids = _submit(stack, cases, f"{label}-{time.time_ns()}")
    _wait_for_a_running_step(stack, ids)
    fault()
    finished = _wait_settled(stack, ids)
    completed = [c for c in finished if c["status"] == "completed"]
    for case in completed:
        (document,) = case["documents"]
        assert Path(document["path"]).is_file()
    figures = {
        "fault": label,
        "submitted": len(ids),
        "completed": len(completed),
        "duplicates": _duplicates(stack, [c["id"] for c in completed]),
        "lost": len(ids) - len(completed),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\nchaos: {json.dumps(figures)}")
    if out := os.environ.get("IDARA_BENCH_OUT"):
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(figures) + "\n")
    assert figures["completed"] == figures["submitted"], [
        (c["reference"], c["status"], c["error"]) for c in finished
    ]
    assert figures["duplicates"] == 0
    stack.check_alive()
    return figures


def test_a_node_killed_in_the_middle_of_a_step(stack: Stack) -> None:
    def fault() -> None:
        stack.kill("worker")
        time.sleep(1)
        stack.start_worker()

    _run_with_fault(stack, "kill -9 of the node", fault)


def test_sigterm_lets_a_node_finish_its_step(stack: Stack) -> None:
    exit_codes: list[int | None] = []

    def fault() -> None:
        worker = next(s for s in stack.services if s.name == "worker")
        stack.terminate("worker")
        exit_codes.append(worker.process.returncode)
        stack.start_worker()

    _run_with_fault(stack, "SIGTERM to the node", fault)
    assert exit_codes == [0]  # a warm shutdown: the running step finished first


def test_redis_restarted_with_its_data_lost(stack: Stack) -> None:
    def fault() -> None:
        stack.kill("redis")
        shutil.rmtree(stack.data_dir / "redis")
        stack.start_redis()

    _run_with_fault(stack, "Redis restarted empty", fault)


def test_api_and_engine_restarted_under_load(stack: Stack) -> None:
    def fault() -> None:
        stack.kill("engine")
        stack.kill("api")
        stack.start_api()
        stack.start_engine()

    _run_with_fault(stack, "API and engine killed and restarted", fault)


def test_database_connections_dropped(stack: Stack) -> None:
    database = stack.settings.effective_database_url.rsplit("/", 1)[-1]
    admin = create_engine(os.environ["IDARA_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")

    def fault() -> None:
        with admin.connect() as connection:
            dropped = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            ).scalar_one()
        assert dropped > 0

    try:
        _run_with_fault(stack, "database connections dropped", fault)
    finally:
        admin.dispose()


def test_sigterm_on_the_api_finishes_the_requests_in_flight(stack: Stack) -> None:
    """Filings racing a SIGTERM: each is answered 201 and stored, or refused (503, or the
    connection refused once the API stopped listening) and not stored; none is half-done."""
    body = json.loads(SAMPLES[0].read_text(encoding="utf-8"))
    body["procedure"] = PROCEDURE
    label = f"sigterm-api-{time.time_ns()}"
    answers: dict[str, int | str] = {}

    def file(n: int) -> None:
        key = f"{label}-{n}"
        try:
            response = httpx.post(
                f"{_api(stack)}/api/v1/cases",
                json=body,
                headers={"Idempotency-Key": key, **_clerk(stack)},
                timeout=30,
            )
            answers[key] = response.status_code
        except httpx.TransportError as exc:
            answers[key] = type(exc).__name__

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(file, n) for n in range(48)]
        time.sleep(0.3)
        api = next(s for s in stack.services if s.name == "api")
        stack.terminate("api", timeout_s=60)
        for future in futures:
            future.result()
    exit_code = api.process.returncode
    stack.start_api()
    engine = create_engine(stack.settings.effective_database_url)
    try:
        with engine.connect() as connection:
            stored = set(
                connection.execute(
                    text("SELECT idempotency_key FROM cases WHERE idempotency_key LIKE :p"),
                    {"p": f"{label}-%"},
                ).scalars()
            )
    finally:
        engine.dispose()
    accepted = {key for key, answer in answers.items() if answer == 201}
    figures = {
        "fault": "SIGTERM to the API under filings",
        "submitted": len(answers),
        "accepted": len(accepted),
        "refused": len(answers) - len(accepted),
        "server_errors": sum(
            1 for a in answers.values() if isinstance(a, int) and a >= 500 and a != 503
        ),
        "lost": len(accepted - stored),
        "stored_unanswered": len(stored - accepted),
        "answers": dict(Counter(str(a) for a in answers.values())),
    }
    print(f"\nchaos: {json.dumps(figures)}")
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught as its exit status
    assert exit_code in (0, -signal.SIGTERM)
    assert figures["server_errors"] == 0 and figures["lost"] == 0
    assert accepted, answers  # the requests in flight when SIGTERM came were finished
    _wait_settled(stack, _ids_of(stack, accepted))


def _ids_of(stack: Stack, keys: set[str]) -> list[str]:
    engine = create_engine(stack.settings.effective_database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, idempotency_key FROM cases WHERE idempotency_key IS NOT NULL")
            ).all()
    finally:
        engine.dispose()
    return [case_id for case_id, key in rows if key in keys]
