"""The whole stack, for real: Redis, Prefect server, Celery node workers with the default model,
the API and the engine, on SQLite and on PostgreSQL. Cases go in over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlmodel import Session

from agents.language import arabic_share, detect_language
from agents.manifest import load_manifest
from agents.prompts import load_prompt
from orchestrator.cli.demo import prepare_database
from orchestrator.cli.stack import Stack
from orchestrator.db import make_engine
from orchestrator.procedures.schemas import ProcedureDefinition
from orchestrator.procedures.service import load_definition, publish
from orchestrator.settings import SEEDS_DIR, Settings
from tests.conftest import _create_database, _drop_database, free_port

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m"
MANIFEST = load_manifest(SEEDS_DIR / "models" / "manifest.json")
DEPARTMENTS = set(load_prompt("triage/classify", 1).schema["properties"]["department"]["enum"])
EXTRACT_SCHEMA = load_prompt("triage/extract", 1).schema
SAMPLES = sorted((SEEDS_DIR / "requests").glob("0[123]-*.json"))  # fr, ar, en


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, Prefect and the node worker, shared by both databases; API and engine on SQLite."""
    data = tmp_path_factory.mktemp("stack-sqlite")
    settings = Settings(
        data_dir=data,
        redis_port=free_port(),
        prefect_port=free_port(),
        api_port=free_port(),
        node_name="node-a",
        step_timeout_s=180,
    )
    stack = Stack(settings, models=[MODEL])
    try:
        stack.start_redis()
        stack.start_prefect()
        prepare_database(settings)
        stack.start_worker()
        stack.start_api()
        stack.start_engine()
        stack.wait_for_worker()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def on_postgres(base: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    server = os.environ.get("IDARA_TEST_POSTGRES_URL")
    if not server:
        if os.environ.get("CI"):
            pytest.fail("IDARA_TEST_POSTGRES_URL must be set under CI")
        pytest.skip("set IDARA_TEST_POSTGRES_URL to run against PostgreSQL")
    url, name = _create_database(server)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("stack-pg"),
        database_url=url,
        redis_url=base.settings.effective_redis_url,
        prefect_api_url=base.settings.effective_prefect_api_url,
        api_port=free_port(),
        node_name="node-a",
        step_timeout_s=180,
    )
    stack = Stack(settings)
    try:
        prepare_database(settings)
        stack.start_api()
        stack.start_engine()
        yield stack
    finally:
        stack.stop()
        _drop_database(server, name)


def _api(stack: Stack) -> str:
    return stack.settings.api_base_url


def submit(stack: Stack, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    response = httpx.post(f"{_api(stack)}/api/v1/cases", json=body, headers=headers, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def get_case(stack: Stack, case_id: str) -> dict[str, Any]:
    return httpx.get(f"{_api(stack)}/api/v1/cases/{case_id}", timeout=10).json()  # type: ignore[no-any-return]


def wait_all(stack: Stack, ids: list[str], timeout_s: float = 420) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack.check_alive()
        cases = [get_case(stack, case_id) for case_id in ids]
        if all(case["status"] in {"completed", "failed"} for case in cases):
            return cases
        time.sleep(0.5)
    raise AssertionError(
        f"cases not finished after {timeout_s} s: "
        f"{[(c['reference'], c['status_detail']) for c in cases]}"
    )


def assert_triaged(case: dict[str, Any], expected_language: str) -> None:
    """What a clerk checks on a finished triage case."""
    assert case["status"] == "completed", case["error"]
    assert case["prefect_flow_run_id"]
    steps = {step["name"]: step for step in case["steps"]}
    assert list(steps) == ["classify", "extract", "draft_acknowledgement"]
    classification = steps["classify"]["output"]
    assert classification["department"] in DEPARTMENTS
    assert classification["urgency"] in {"low", "normal", "high"}
    jsonschema.validate(steps["extract"]["output"], EXTRACT_SCHEMA)
    draft = steps["draft_acknowledgement"]["output"]
    assert draft["language"] == expected_language
    assert draft["letter"].strip() and case["reference"] in draft["letter"]
    assert detect_language(draft["letter"]) == expected_language
    if expected_language == "ar":
        assert arabic_share(draft["letter"]) > 0.5
    for step in steps.values():
        assert step["status"] == "succeeded"
        assert step["model"] == MODEL and step["model_sha256"] == MANIFEST[MODEL].sha256
        assert step["node"] == "node-a"
        assert step["queue"] == f"llm.{MODEL}.default"
        assert step["prompt_tokens"] > 0 and step["completion_tokens"] > 0
        assert step["model_ms"] > 0 and step["tokens_per_s"] > 0
        assert step["latency_ms"] >= step["model_ms"]
        assert len(step["prompt_sha256"]) == 64 and len(step["output_sha256"]) == 64


def _run_samples(stack: Stack) -> None:
    bodies = [json.loads(path.read_text(encoding="utf-8")) for path in SAMPLES]
    cases = [submit(stack, body) for body in bodies]
    assert all(case["status"] == "queued" for case in cases)
    finished = wait_all(stack, [case["id"] for case in cases])
    for body, case in zip(bodies, finished, strict=True):
        assert_triaged(case, body["language"])
    assert cases[2]["reference"] in finished[2]["steps"][2]["output"]["letter"]


def test_sample_requests_complete_on_sqlite(base: Stack) -> None:
    _run_samples(base)


def test_sample_requests_complete_on_postgresql(on_postgres: Stack) -> None:
    _run_samples(on_postgres)


def test_cli_submit_and_status(base: Stack, tmp_path: Path) -> None:
    env = {**base.env(), "IDARA_API_PORT": str(base.settings.api_port)}
    cli = [sys.executable, "-m", "orchestrator.cli.main"]
    sample = str(SEEDS_DIR / "requests" / "04-fr-tax-certificate.json")
    done = subprocess.run(
        [*cli, "submit", sample, "--wait"], env=env, capture_output=True, text=True, timeout=420
    )
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout and "acknowledgement letter" in done.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"procedure": "nope", "text": "x"}')
    refused = subprocess.run(
        [*cli, "submit", str(bad)], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1 and "unknown procedure" in refused.stderr
    missing = subprocess.run(
        [*cli, "status", "no-such-case"], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr


def test_a_case_filed_while_redis_is_down_runs_once_it_is_back(base: Stack) -> None:
    redis_service = next(s for s in base.services if s.name == "redis")
    redis_service.process.terminate()
    redis_service.process.wait(10)
    base.services.remove(redis_service)
    body = json.loads(SAMPLES[0].read_text(encoding="utf-8"))
    case = submit(base, body, key="filed-while-redis-down")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = get_case(base, case["id"])
        if "unreachable" in seen["status_detail"]:
            break
        time.sleep(0.5)
    assert seen["status"] == "queued" and "unreachable" in seen["status_detail"], seen
    base.start_redis()  # same port, same append-only data
    (finished,) = wait_all(base, [case["id"]], timeout_s=300)
    assert_triaged(finished, "fr")


def test_a_tampered_model_file_is_refused_and_the_case_says_why(
    base: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    models = tmp_path_factory.mktemp("tampered-models")
    original = MANIFEST[MODEL]
    copy = models / "tampered.gguf"
    shutil.copyfile(original.resolve_path(Path(".")), copy)
    with copy.open("r+b") as handle:  # flip one byte of the weights
        handle.seek(50_000_000)
        byte = handle.read(1)
        handle.seek(50_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    manifest = models / "manifest.json"
    manifest.write_text(
        json.dumps(
            {"models": [{"name": "tampered", "file": "tampered.gguf", "sha256": original.sha256}]}
        )
    )
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("node-t"),
        model_dir=models,
        model_manifest=manifest,
        redis_url=base.settings.effective_redis_url,
        node_name="node-tampered",
    )
    node = Stack(settings, models=["tampered"])
    definition = load_definition(SEEDS_DIR / "procedures" / "citizen-request-triage.yaml")
    steps = [s.model_copy(update={"model": "tampered"}) for s in definition.steps]
    tampered = ProcedureDefinition.model_validate(
        {**definition.model_dump(), "name": "tampered-triage", "steps": steps}
    )
    engine = make_engine(base.settings.effective_database_url)
    with Session(engine) as session:
        publish(session, tampered)
    engine.dispose()
    try:
        node.start_worker()
        node.wait_for_worker()
        body = {
            **json.loads(SAMPLES[2].read_text(encoding="utf-8")),
            "procedure": "tampered-triage",
        }
        case = submit(base, body)
        (finished,) = wait_all(base, [case["id"]], timeout_s=120)
    finally:
        node.stop()
    assert finished["status"] == "failed"
    assert "sha256 mismatch" in finished["error"] and "refusing to load" in finished["error"]
    first = finished["steps"][0]
    assert first["status"] == "failed" and first["node"] == "node-tampered"
    assert "sha256 mismatch" in first["error"]
    assert [s["status"] for s in finished["steps"][1:]] == ["pending", "pending"]
