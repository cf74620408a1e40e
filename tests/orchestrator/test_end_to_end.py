"""The whole stack, for real: Redis, Prefect server, Celery node workers with the default model,
the API and the engine, on SQLite and on PostgreSQL. Cases go in over HTTP."""

from __future__ import annotations

import html
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
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from sqlmodel import Session

from agents.catalogue import Catalogue, sign_manifest
from agents.language import arabic_share, detect_language
from agents.manifest import load_manifest
from agents.prompts import load_prompt
from orchestrator.db import make_engine
from orchestrator.procedures.schemas import ProcedureDefinition
from orchestrator.procedures.service import publish
from orchestrator.seeding import prepare_database
from orchestrator.settings import Settings
from orchestrator.stack import Stack, install_for_stack, start_stack
from tests.conftest import _create_database, _drop_database, free_port, stack_settings
from tests.orchestrator.conftest import signed_in
from workers.settings import SEEDS_DIR

pytestmark = pytest.mark.slow

MODEL = "smollm2-135m"
STACK_NODES = {"node-a", "node-pg"}
"""The SQLite stack's node and the PostgreSQL stack's: both consume the same queues."""
MANIFEST = load_manifest(SEEDS_DIR / "models" / "manifest.json")
DEPARTMENTS = set(load_prompt("triage/classify", 1).schema["properties"]["department"]["enum"])
EXTRACT_SCHEMA = load_prompt("triage/extract", 1).schema
SAMPLES = sorted((SEEDS_DIR / "requests").glob("0[123]-*.json"))  # fr, ar, en
LICENCE_SAMPLES = sorted((SEEDS_DIR / "requests").glob("*-business-licence.json"))
TRIAGE_STEPS = ["classify", "extract", "draft_acknowledgement", "approve", "deliver"]
LLM_STEPS = TRIAGE_STEPS[:3]
SETTLED = {"completed", "failed", "rejected", "cancelled", "awaiting_approval"}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, Prefect and the node worker, shared by both databases; API and engine on SQLite."""
    settings = stack_settings(tmp_path_factory.mktemp("stack-sqlite"))
    stack = start_stack(settings, [MODEL], Console(quiet=True))
    try:
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
        node_name="node-pg",
        step_timeout_s=180,
    )
    stack = Stack(settings)
    try:
        prepare_database(settings)
        stack.start_api()
        stack.start_engine()
        install_for_stack(settings)  # its node's own signed catalogue, as start_stack makes
        stack.start_worker()  # registered with this control plane only; consumes node.node-pg
        stack.wait_for_worker()
        yield stack
    finally:
        stack.stop()
        _drop_database(server, name)


def variant_of_triage(
    name: str, models: dict[str, str], version: int = 1, requires: tuple[str, ...] = ()
) -> ProcedureDefinition:
    """The seed triage procedure under another name, with some steps on other models, and its
    agent steps needing the node labels ``requires``."""
    raw = yaml.safe_load((SEEDS_DIR / "procedures" / "citizen-request-triage.yaml").read_text())
    raw.update(name=name, version=version)
    for step in raw["steps"]:
        step["model"] = models.get(step["name"], step.get("model"))
        if step["model"] is None:
            del step["model"]
        elif requires:
            step["requires"] = list(requires)
    return ProcedureDefinition.model_validate(raw)


def second_node(
    base: Stack, models: Path, model: str, data_dir: Path, name: str = "", labels: str = ""
) -> Settings:
    """Settings of another node on the same Redis, serving ``model`` from ``models/<model>.gguf``
    with the default model's sha256 expected, in a catalogue signed by its own ops key; its
    metrics on a port of its own."""
    manifest = models / "manifest.json"
    entry = {"name": model, "file": f"{model}.gguf", "sha256": MANIFEST[MODEL].sha256}
    manifest.write_text(json.dumps({"models": [entry]}))
    settings = Settings(
        data_dir=data_dir,
        model_dir=models,
        model_manifest=manifest,
        redis_url=base.settings.effective_redis_url,
        node_name=name or f"node-{model}",
        node_labels=labels,
        node_metrics_port=free_port(),
        control_plane_url=base.settings.api_base_url,
        join_token=base.join_token(),
    )
    sign_manifest(Catalogue.from_settings(settings))
    return settings


def publish_on(stack: Stack, definition: ProcedureDefinition) -> bool:
    """Publish a version in the stack's database, as `idara procedures publish` does."""
    engine = make_engine(stack.settings.effective_database_url)
    try:
        with Session(engine) as session:
            return publish(session, definition)[1]
    finally:
        engine.dispose()


def _api(stack: Stack) -> str:
    return stack.settings.api_base_url


def clerk(stack: Stack) -> dict[str, str]:
    """Signed in as amina, the clerk who files the cases."""
    return signed_in(stack.settings, "amina")


def submit(stack: Stack, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key, **clerk(stack)} if key else clerk(stack)
    response = httpx.post(f"{_api(stack)}/api/v1/cases", json=body, headers=headers, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def get_case(stack: Stack, case_id: str) -> dict[str, Any]:
    url = f"{_api(stack)}/api/v1/cases/{case_id}"
    return httpx.get(url, headers=clerk(stack), timeout=10).json()  # type: ignore[no-any-return]


def wait_all(stack: Stack, ids: list[str], timeout_s: float = 420) -> list[dict[str, Any]]:
    """Wait until every case has ended or waits for a person."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack.check_alive()
        cases = [get_case(stack, case_id) for case_id in ids]
        if all(case["status"] in SETTLED for case in cases):
            return cases
        time.sleep(0.5)
    raise AssertionError(
        f"cases not finished after {timeout_s} s: "
        f"{[(c['reference'], c['status_detail']) for c in cases]}"
    )


def decide(stack: Stack, case_id: str, user: str, body: dict[str, Any]) -> dict[str, Any]:
    """Decide the case's approval as ``user``, found in that user's inbox, over HTTP."""
    headers = signed_in(stack.settings, user)
    inbox = httpx.get(f"{_api(stack)}/api/v1/approvals", headers=headers, timeout=10).json()
    (item,) = [i for i in inbox["items"] if i["case_id"] == case_id]
    response = httpx.post(
        f"{_api(stack)}/api/v1/approvals/{item['id']}", json=body, headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def approve_and_finish(
    stack: Stack, cases: list[dict[str, Any]], user: str
) -> list[dict[str, Any]]:
    for case in cases:
        assert case["status"] == "awaiting_approval", (case["status"], case["error"])
        decide(stack, case["id"], user, {"decision": "approve"})
    return wait_all(stack, [case["id"] for case in cases])


def assert_delivered(stack: Stack, case: dict[str, Any], expected_text: str) -> None:
    """The document exists on disk, is served over HTTP, and says what it should."""
    assert case["status"] == "completed", case["error"]
    (document,) = case["documents"]
    pdf = httpx.get(document["pdf_url"], headers=clerk(stack))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert Path(document["path"]).read_bytes() == pdf.content
    page = html.unescape(httpx.get(document["html_url"], headers=clerk(stack)).text)
    assert case["reference"] in page and expected_text in page


def assert_triaged(case: dict[str, Any], expected_language: str) -> None:
    """What a clerk checks on a finished triage case."""
    assert case["status"] == "completed", case["error"]
    assert case["prefect_task_run_id"] and case["prefect_flow_run_id"] is None
    steps = {step["name"]: step for step in case["steps"]}
    assert list(steps) == TRIAGE_STEPS
    assert steps["approve"]["output"]["decision"] == "approved"
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
        if step["kind"] != "llm":
            continue
        assert step["model"] == MODEL and step["model_sha256"] == MANIFEST[MODEL].sha256
        assert step["node"] in STACK_NODES
        assert step["queue"] == f"node.{step['node']}"  # placed on its node's own queue
        assert step["prompt_tokens"] > 0 and step["completion_tokens"] > 0
        assert step["model_ms"] > 0 and step["tokens_per_s"] > 0
        assert step["latency_ms"] >= step["model_ms"]
        assert len(step["prompt_sha256"]) == 64 and len(step["output_sha256"]) == 64


def _run_samples(stack: Stack) -> list[dict[str, Any]]:
    bodies = [json.loads(path.read_text(encoding="utf-8")) for path in SAMPLES]
    cases = [submit(stack, body) for body in bodies]
    assert all(case["status"] == "queued" for case in cases)
    waiting = wait_all(stack, [case["id"] for case in cases])
    finished = approve_and_finish(stack, waiting, "youssef")
    for body, case in zip(bodies, finished, strict=True):
        assert_triaged(case, body["language"])
        letter = case["steps"][2]["output"]["letter"]
        assert_delivered(stack, case, letter.splitlines()[-1].strip())
        assert_audited(stack, case)
        assert_run_in_prefect(stack, case)
    assert_log_verifies(stack)
    return finished


def assert_run_in_prefect(stack: Stack, case: dict[str, Any]) -> None:
    """The case's last engine run is a task run the Prefect server recorded, named by the
    case's reference, completed (its states reach the server as events, a moment later)."""
    url = f"{stack.settings.effective_prefect_api_url}/task_runs/{case['prefect_task_run_id']}"
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.get(url)
        run = answer.json() if answer.status_code == 200 else {}
        if run.get("state_type") == "COMPLETED" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert run.get("name") == case["reference"], (answer.status_code, run)
    assert run.get("state_type") == "COMPLETED", run


def assert_audited(stack: Stack, case: dict[str, Any]) -> None:
    """The auditor's timeline of a finished triage case: every step started and finished in
    order, on the real model and node, and the approval with who decided."""
    timeline = httpx.get(
        f"{_api(stack)}/api/v1/audit/cases/{case['id']}", headers=signed_in(stack.settings, "omar")
    ).json()
    events = timeline["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "case.created" and kinds[-1] == "case.completed"
    finished = [e["data"]["step"] for e in events if e["kind"] == "step.finished"]
    assert finished == TRIAGE_STEPS
    assert kinds.count("step.started") == len(TRIAGE_STEPS)
    (decided,) = [e for e in events if e["kind"] == "approval.decided"]
    assert decided["actor"] == "youssef" and decided["data"]["decision"] == "approve"
    for event in events:
        if event["kind"] == "step.finished" and event["data"]["step_kind"] == "llm":
            assert event["model"] == MODEL and event["node"] in STACK_NODES
            assert event["data"]["model_sha256"] == MANIFEST[MODEL].sha256
            assert event["data"]["completion_tokens"] > 0
            assert event["payloads"][event["data"]["prompt_sha256"]] is not None


def assert_log_verifies(stack: Stack) -> None:
    """``idara audit export`` on the stack's database, then ``idara audit verify`` offline."""
    out = stack.settings.data_dir / f"audit-export-{time.monotonic_ns()}"
    cli = [sys.executable, "-m", "orchestrator.cli.main", "audit"]
    env = stack.env()
    exported = subprocess.run([*cli, "export", str(out)], env=env, capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    verified = subprocess.run([*cli, "verify", str(out)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK export" in verified.stdout


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    answer = httpx.get(url, headers=headers, timeout=10, trust_env=False)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def metrics_of(stack: Stack) -> tuple[Samples, Samples]:
    """The API's ``/metrics`` (as ops) and the stack node's metrics port."""
    api = scrape(f"{_api(stack)}/metrics", signed_in(stack.settings, "nadia"))
    node = scrape(f"http://127.0.0.1:{stack.settings.node_metrics_port}/metrics")
    return api, node


def test_sample_requests_complete_on_sqlite(base: Stack) -> None:
    api_before, node_before = metrics_of(base)
    cases = _run_samples(base)
    api, node = metrics_of(base)

    def grew(after: Samples, before: Samples, name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    llm_steps = [step for case in cases for step in case["steps"] if step["kind"] == "llm"]
    ok = {"kind": "llm", "model": MODEL, "status": "succeeded"}
    assert grew(api, api_before, "idara_steps_finished_total", **ok) == len(llm_steps) == 9
    assert grew(api, api_before, "idara_cases_finished_total", status="completed") == 3
    generated = sum(step["completion_tokens"] for step in llm_steps)
    assert grew(api, api_before, "idara_step_generated_tokens_total", model=MODEL) == generated
    assert grew(api, api_before, "idara_step_latency_seconds_count", model=MODEL) == 9
    assert api[("idara_node_ready", frozenset({("node", "node-a")}))] == 1.0
    assert api[("idara_redis_up", frozenset())] == 1.0
    assert api[("idara_queue_depth", frozenset({("queue", "node.node-a")}))] == 0.0
    on_node_a = sum(step["node"] == "node-a" for step in llm_steps)
    ran = {"model": MODEL, "outcome": "ok"}
    assert grew(node, node_before, "idara_node_steps_finished_total", **ran) >= on_node_a >= 1
    assert grew(node, node_before, "idara_node_generated_tokens_total", model=MODEL) > 0
    assert node[("idara_node_schedulable", frozenset())] == 1.0
    assert node[("idara_node_heartbeat_age_seconds", frozenset())] < 15


def test_sample_requests_complete_on_postgresql(on_postgres: Stack) -> None:
    _run_samples(on_postgres)


def test_cli_submit_and_status(base: Stack, tmp_path: Path) -> None:
    env = {**base.env(), "IDARA_API_PORT": str(base.settings.api_port), "COLUMNS": "250"}
    env["IDARA_TOKEN"] = clerk(base)["Authorization"].removeprefix("Bearer ")
    supervisor = signed_in(base.settings, "youssef")["Authorization"].removeprefix("Bearer ")
    cli = [sys.executable, "-m", "orchestrator.cli.main"]
    sample = str(SAMPLES[0])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=420)

    done = run("submit", sample, "--wait")
    assert done.returncode == 0, done.stderr
    assert "awaiting_approval" in done.stdout and "letter" in done.stdout
    reference = done.stdout.split("case ")[1].split()[0]
    listed = run("approvals", "list", "--token", supervisor)
    assert listed.returncode == 0 and reference in listed.stdout, listed.stderr
    approval_id = next(line.split()[1] for line in listed.stdout.splitlines() if reference in line)
    refused = run("approvals", "decide", approval_id, "reject", "--token", supervisor)
    assert refused.returncode == 1 and "needs a reason" in refused.stderr
    approved = run("approvals", "decide", approval_id, "approve", "--token", supervisor)
    assert approved.returncode == 0, approved.stderr
    (case,) = wait_all(base, [reference])
    assert case["status"] == "completed"
    shown = run("status", reference)
    assert shown.returncode == 0 and case["documents"][0]["path"] in shown.stdout.replace("\n", "")
    bad = tmp_path / "bad.json"
    bad.write_text('{"procedure": "nope", "text": "x"}')
    unknown = run("submit", str(bad))
    assert unknown.returncode == 1 and "unknown procedure" in unknown.stderr
    missing = run("status", "no-such-case")
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr
    resumed = run("resume", reference)
    assert resumed.returncode == 1 and "only a failed case can be resumed" in resumed.stderr


def test_a_case_filed_while_redis_is_down_runs_once_it_is_back(base: Stack) -> None:
    redis_service = next(s for s in base.services if s.name == "redis")
    redis_service.process.terminate()
    redis_service.process.wait(10)
    base.services.remove(redis_service)
    try:
        body = json.loads(SAMPLES[0].read_text(encoding="utf-8"))
        case = submit(base, body, key="filed-while-redis-down")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen = get_case(base, case["id"])
            if "unreachable" in seen["status_detail"]:
                break
            time.sleep(0.5)
        assert seen["status"] == "queued" and "unreachable" in seen["status_detail"], seen
    finally:  # the tests after this one share the stack
        base.start_redis()  # same port, same append-only data
    (waiting,) = wait_all(base, [case["id"]], timeout_s=300)
    (finished,) = approve_and_finish(base, [waiting], "youssef")
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
    settings = second_node(base, models, "tampered", tmp_path_factory.mktemp("node-t"))
    node = Stack(settings, models=["tampered"])
    tampered = variant_of_triage(
        "tampered-triage",
        {"classify": "tampered", "extract": "tampered", "draft_acknowledgement": "tampered"},
    )
    publish_on(base, tampered)
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
    assert [s["status"] for s in finished["steps"][1:]] == ["pending"] * 4


def test_licence_branches_taken_and_not_taken(base: Stack) -> None:
    """A complete application takes the grant branch; one missing documents asks for them."""
    complete, missing = (
        json.loads(path.read_text(encoding="utf-8"))
        for path in LICENCE_SAMPLES
        if path.name.startswith(("08-", "09-"))
    )
    cases = [submit(base, complete), submit(base, missing)]
    waiting = wait_all(base, [case["id"] for case in cases])
    granted, incomplete = approve_and_finish(base, waiting, "salma")
    steps = {s["name"]: s for s in granted["steps"]}
    assert steps["documents"]["output"]["complete"] is True
    assert steps["fee"]["output"]["fee_mad"] == 1100  # restaurant, 80 m²: 800 + 10 * 30
    assert steps["draft_grant"]["status"] == "succeeded"
    assert steps["draft_request_documents"]["status"] == "skipped"
    assert "does not hold" in steps["draft_request_documents"]["notes"][0]
    assert_delivered(base, granted, "1100")
    steps = {s["name"]: s for s in incomplete["steps"]}
    assert steps["documents"]["output"]["complete"] is False
    assert steps["fee"]["status"] == "skipped"
    assert steps["draft_grant"]["status"] == "skipped"
    assert steps["draft_request_documents"]["status"] == "succeeded"
    missing_labels = steps["documents"]["output"]["missing_labels"]
    assert missing_labels and all(
        label in steps["draft_request_documents"]["output"]["letter"] for label in missing_labels
    )
    assert_delivered(base, incomplete, missing_labels[0])


def _result_count(stack: Stack) -> int:
    """Tasks the nodes have run (one result each): the LLM calls made."""
    client = redis.Redis.from_url(stack.settings.effective_redis_url)
    return sum(1 for _ in client.scan_iter("celery-task-meta-*", count=1000))


def test_resume_reruns_only_the_failed_step(
    base: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The extract step runs on a node whose model file is missing: the case fails there.
    Once ops put the file in place, resume re-runs extract and what follows, nothing before."""
    models = tmp_path_factory.mktemp("flaky-models")
    original = MANIFEST[MODEL]
    settings = second_node(base, models, "flaky", tmp_path_factory.mktemp("node-f"))
    definition = variant_of_triage("resume-triage", {"extract": "flaky"})
    publish_on(base, definition)
    node = Stack(settings, models=["flaky"])
    try:
        node.start_worker()
        node.wait_for_worker()
        calls = _result_count(base)
        body = {**json.loads(SAMPLES[0].read_text(encoding="utf-8")), "procedure": "resume-triage"}
        (failed,) = wait_all(base, [submit(base, body)["id"]], timeout_s=180)
        assert failed["status"] == "failed" and "flaky.gguf" in failed["error"]
        assert [s["status"] for s in failed["steps"]] == ["succeeded", "failed"] + ["pending"] * 3
        assert _result_count(base) - calls == 2  # classify, and the failed extract
        node.stop()
        shutil.copyfile(original.resolve_path(Path(".")), models / "flaky.gguf")
        node = Stack(settings, models=["flaky"])
        node.start_worker()
        node.wait_for_worker()
        resumed = httpx.post(
            f"{_api(base)}/api/v1/cases/{failed['id']}/resume", headers=clerk(base), timeout=10
        )
        assert resumed.status_code == 200 and resumed.json()["status"] == "queued"
        (waiting,) = wait_all(base, [failed["id"]])
        (done,) = approve_and_finish(base, [waiting], "youssef")
    finally:
        node.stop()
    assert done["status"] == "completed"
    assert _result_count(base) - calls == 4  # + extract and draft again; classify not re-run
    before, after = failed["steps"][0], done["steps"][0]
    assert after["attempts"] == 1 and after["finished_at"] == before["finished_at"]
    assert done["steps"][1]["attempts"] == 2 and done["steps"][1]["node"] == "node-flaky"


def test_reject_edit_and_a_new_version_leaves_running_cases_on_theirs(base: Stack) -> None:
    body = json.loads(SAMPLES[0].read_text(encoding="utf-8"))
    cases = [submit(base, body), submit(base, body)]
    rejected_case, edited_case = wait_all(base, [case["id"] for case in cases])
    assert {rejected_case["status"], edited_case["status"]} == {"awaiting_approval"}
    newer = variant_of_triage("citizen-request-triage", {}, version=5)
    newer = newer.model_copy(update={"steps": [s for s in newer.steps if s.name != "extract"]})
    assert publish_on(base, newer)
    decide(base, rejected_case["id"], "youssef", {"decision": "reject", "reason": "Doublon"})
    letter = "Madame,\n\nVotre demande a été transmise au service de l'état civil. Réf. corrigée."
    decide(base, edited_case["id"], "youssef", {"decision": "edit", "edit": {"letter": letter}})
    rejected, edited = wait_all(base, [rejected_case["id"], edited_case["id"]])
    assert rejected["status"] == "rejected" and "Doublon" in rejected["status_detail"]
    assert rejected["steps"][-1]["status"] == "cancelled" and rejected["documents"] == []
    assert edited["status"] == "completed" and edited["procedure_version"] == 4
    assert [s["name"] for s in edited["steps"]] == TRIAGE_STEPS  # v4's steps, not v5's
    draft = edited["steps"][2]
    assert draft["edited_output"]["letter"] == letter and draft["output"]["letter"] != letter
    assert edited["steps"][3]["output"]["decision"] == "edited"
    assert_delivered(base, edited, "Réf. corrigée.")
    new_case = submit(base, body)
    assert new_case["procedure_version"] == 5 and len(new_case["steps"]) == 4
    httpx.post(
        f"{_api(base)}/api/v1/cases/{new_case['id']}/cancel", headers=clerk(base), timeout=10
    )


def test_no_process_of_the_stack_tried_to_leave_the_premises(base: Stack) -> None:
    """After every test above ran on it (all three procedures, the CLI, Redis stopped, a
    tampered model, resumes, rejections), the stack's processes recorded no connection out,
    and `idara sovereignty check` passes with the stack's settings."""
    assert not (base.data_dir / "egress-attempts.jsonl").exists()
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "sovereignty", "check"],
        env={**base.env(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS egress attempts: none recorded" in done.stdout


def _nodes(base: Stack) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{_api(base)}/api/v1/nodes", headers=signed_in(base.settings, "nadia"))
    assert answer.status_code == 200, answer.text
    return {node["name"]: node for node in answer.json()}


def _ops(base: Stack, name: str, action: str) -> None:
    url = f"{_api(base)}/api/v1/nodes/{name}/{action}"
    answer = httpx.post(url, headers=signed_in(base.settings, "nadia"), timeout=10)
    assert answer.status_code == 200, answer.text


def _until(what: str, check: Any, timeout_s: float = 120) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"not seen within {timeout_s} s: {what}")


def _step_running(base: Stack, case_id: str) -> bool:
    return any(s["status"] == "running" for s in get_case(base, case_id)["steps"])


def _llm_nodes(case: dict[str, Any]) -> list[str]:
    return [s["node"] for s in case["steps"] if s["kind"] == "llm"]


def _held_together(
    one: dict[str, Any], other: dict[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The pairs of agent steps of two cases that were placed on nodes at the same time (from
    dispatch to result)."""
    steps = [[s for s in case["steps"] if s["kind"] == "llm"] for case in (one, other)]
    return [
        (a, b)
        for a in steps[0]
        for b in steps[1]
        if a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]
    ]


def test_nodes_placement_drain_and_missing_heartbeats(
    base: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two more nodes serve model m2, x at site rabat and y with a GPU: a case waits, saying
    so, until one registers; a drained node finishes its running step and takes no new one; a
    node whose heartbeats stop becomes not_ready and the step it held runs on the other; steps
    that require a label run only where it is; two cases at once go to the least loaded."""
    publish_on(base, variant_of_triage("m2-triage", dict.fromkeys(LLM_STEPS, "m2")))
    gpu_only = variant_of_triage("m2-gpu-triage", dict.fromkeys(LLM_STEPS, "m2"), requires=("gpu",))
    publish_on(base, gpu_only)
    body = {**json.loads(SAMPLES[0].read_text(encoding="utf-8")), "procedure": "m2-triage"}
    nodes = {}
    for name, labels in (("node-x", "site=rabat"), ("node-y", "gpu,site=fes")):
        models = tmp_path_factory.mktemp(f"{name}-models")
        shutil.copyfile(MANIFEST[MODEL].resolve_path(Path(".")), models / "m2.gguf")
        settings = second_node(base, models, "m2", tmp_path_factory.mktemp(name), name, labels)
        nodes[name] = Stack(settings, models=["m2"])
    try:
        waiting = submit(base, body)
        detail = _until(
            "the case says no node serves m2",
            lambda: (
                "no ready node serves model m2" in get_case(base, waiting["id"])["status_detail"]
            ),
        )
        assert detail and get_case(base, waiting["id"])["status"] == "queued"
        nodes["node-x"].start_worker()
        (first,) = wait_all(base, [waiting["id"]], timeout_s=180)
        assert first["status"] == "awaiting_approval"
        assert set(_llm_nodes(first)) == {"node-x"}

        # a step that requires a GPU waits while only x (no GPU) is up, and says why
        gpu_case = submit(base, {**body, "procedure": "m2-gpu-triage"})
        _until(
            "the case says node-x lacks gpu",
            lambda: "node-x lacks gpu" in get_case(base, gpu_case["id"])["status_detail"],
        )

        # drain x while it runs a step: that step finishes there; the next ones wait, saying
        # why, until y registers, and run there; y also takes the GPU case
        case = submit(base, body)
        _until("a step running on node-x", lambda: _step_running(base, case["id"]))
        _ops(base, "node-x", "drain")
        _until(
            "the case says node-x is draining",
            lambda: "node-x draining" in get_case(base, case["id"])["status_detail"],
        )
        nodes["node-y"].start_worker()
        drained, on_gpu = wait_all(base, [case["id"], gpu_case["id"]], timeout_s=240)
        ran_on = _llm_nodes(drained)
        assert ran_on[0] == "node-x" and set(ran_on[1:]) == {"node-y"}, ran_on
        assert on_gpu["status"] == "awaiting_approval" and set(_llm_nodes(on_gpu)) == {"node-y"}
        _until("node-x drained", lambda: _nodes(base)["node-x"]["state"] == "drained", 30)

        # both active: while one case holds a step on a node, the other's go to the other node
        _ops(base, "node-x", "uncordon")
        first_case = submit(base, body)
        _until("a step of the first case running", lambda: _step_running(base, first_case["id"]))
        pair = wait_all(base, [first_case["id"], submit(base, body)["id"]], timeout_s=240)
        together = _held_together(*pair)
        assert together, "the two cases never held a step at the same time"
        assert all(a["node"] != b["node"] for a, b in together), [
            (s["name"], s["node"], s["queue"], s["started_at"], s["finished_at"])
            for c in pair
            for s in c["steps"]
        ]

        # y dies holding a step; the step runs again on x
        lost = submit(base, {**body, "procedure": "m2-triage"})
        _until("a step running on node-y or x", lambda: _step_running(base, lost["id"]))
        holder = next(
            s["queue"] for s in get_case(base, lost["id"])["steps"] if s["status"] == "running"
        )
        dead, alive = ("node-y", "node-x") if holder == "node.node-y" else ("node-x", "node-y")
        nodes[dead].kill("worker")
        _until(f"{dead} not_ready", lambda: _nodes(base)[dead]["state"] == "not_ready", 40)
        (recovered,) = wait_all(base, [lost["id"]], timeout_s=180)
        assert recovered["status"] == "awaiting_approval"
        assert _llm_nodes(recovered)[-1] == alive  # the last draft, after the other died
    finally:
        for node in nodes.values():
            node.stop()
    timeline = httpx.get(
        f"{_api(base)}/api/v1/audit/events",
        params={"kind": "node.not_ready"},
        headers=signed_in(base.settings, "omar"),
    ).json()
    assert any(e["node"] in {"node-x", "node-y"} for e in timeline["events"])
