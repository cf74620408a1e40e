"""The audit log as auditors use it: a case's timeline over HTTP, filters, who may read, and
the CLI's export, verify and prove on a real database, tampering included.

The engine's own functions take a case through a draft, an approval and a delivery; the node's
reply to the draft is written in place of a real model's (test_end_to_end runs the model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from agents.tools import canonical_sha256
from orchestrator.cli.main import app as cli
from orchestrator.db import get_engine, session_scope
from orchestrator.engine import executors, flows, state
from orchestrator.procedures.schemas import DeliverStep, HumanApprovalStep, LlmStep
from tests.orchestrator.conftest import NOBODY, SignedIn
from tests.orchestrator.test_approvals_api import DRAFT, YOUSSEF, _publish, _to_approval

AMINA = SignedIn("amina")  # clerk
OMAR = SignedIn("omar")  # auditor
REQUEST = (
    "Bonjour, je m'appelle Amina Bennani, CIN AB123456, téléphone 06 12 34 56 78. "
    "Je demande un certificat."
)
MESSAGES = [
    {"role": "system", "content": "Rédigez un accusé de réception."},
    {"role": "user", "content": REQUEST},
]
runner = CliRunner()


def _node_reply(output: dict[str, Any]) -> dict[str, Any]:
    """What a node returns for an agent step (see workers.tasks.run_agent_step)."""
    return {
        "ok": True,
        "model": "smollm2-135m",
        "node": "node-rabat-1",
        "model_sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "result": {
            "output": output,
            "prompt_ref": "triage/draft@1",
            "prompt_sha256": canonical_sha256(MESSAGES),
            "output_sha256": canonical_sha256(output),
            "prompt_tokens": 120,
            "completion_tokens": 48,
            "duration_ms": 900.5,
            "tokens_per_s": 53.3,
            "notes": [],
            "messages": MESSAGES,
        },
    }


def _run_to_completion(api: TestClient) -> str:
    """File a case as amina and take it, as the engine does, through draft, an edited approval
    by youssef and delivery; return its id."""
    _publish()
    body = {"procedure": "approval-test", "text": REQUEST, "language": "fr"}
    case_id: str = api.post("/api/v1/cases", json=body, headers=AMINA).json()["id"]
    with session_scope() as session:
        state.claim_due_cases(session, 10)
        run = state.load_run(session, case_id)
        draft_id = run.steps["draft"].id
        assert draft_id is not None
        state.record_step_started(session, run.case, draft_id, 1)
        state.set_step(session, draft_id, model="smollm2-135m", attempts=1)
        spec = run.definition.step("draft")
        assert isinstance(spec, LlmStep)
        flows._store_reply(session, draft_id, spec, _node_reply(DRAFT), 1.2, REQUEST)
        run = state.load_run(session, case_id)
        approve_id = run.steps["approve"].id
        assert approve_id is not None
        state.record_step_started(session, run.case, approve_id, 1)
    spec = run.definition.step("approve")
    assert isinstance(spec, HumanApprovalStep)
    approval_id = executors.open_approval(approve_id, spec, case_id, run.steps)
    decision = {
        "decision": "edit",
        "edit": {"letter": "Madame Bennani,\n\nNous avons bien reçu votre demande."},
        "reason": "Nommer la requérante.",
    }
    assert api.post(f"/api/v1/approvals/{approval_id}", json=decision, headers=YOUSSEF).is_success
    with session_scope() as session:
        state.claim_due_cases(session, 10)
        run = state.load_run(session, case_id)
        deliver_id = run.steps["deliver"].id
        assert deliver_id is not None
        state.record_step_started(session, run.case, deliver_id, 1)
    deliver = run.definition.step("deliver")
    assert isinstance(deliver, DeliverStep)
    outputs = {n: s.effective_output for n, s in run.steps.items() if s.effective_output}
    executors.run_deliver(deliver_id, deliver, run.case, run.definition, outputs)
    with session_scope() as session:
        state.complete_case(session, case_id)
    return case_id


def test_a_case_timeline_shows_every_step_and_approval_in_order(api: TestClient) -> None:
    case_id = _run_to_completion(api)
    timeline = api.get(f"/api/v1/audit/cases/{case_id}", headers=OMAR).json()
    steps = [(e["kind"], e["data"].get("step")) for e in timeline["events"]]
    assert steps == [
        ("case.created", None),
        ("step.started", "draft"),
        ("step.finished", "draft"),
        ("step.started", "approve"),
        ("approval.opened", "approve"),
        ("approval.decided", "approve"),
        ("step.finished", "approve"),
        ("step.started", "deliver"),
        ("step.finished", "deliver"),
        ("case.completed", None),
    ]
    events = timeline["events"]
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    created, _, draft, _, opened, decided, approved, _, delivered, _ = events
    assert created["actor"] == "amina"
    assert created["data"]["procedure"] == "approval-test"
    assert draft["model"] == "smollm2-135m" and draft["node"] == "node-rabat-1"
    assert draft["data"]["model_sha256"].startswith("b179c952")
    assert draft["data"]["prompt_ref"] == "triage/draft@1"
    assert (draft["data"]["prompt_tokens"], draft["data"]["completion_tokens"]) == (120, 48)
    assert draft["data"]["prompt_sha256"] == canonical_sha256(MESSAGES)
    assert draft["data"]["output_sha256"] == canonical_sha256(DRAFT)
    assert opened["data"]["group"] == "reception"
    assert decided["actor"] == approved["actor"] == "youssef"
    assert decided["data"]["decision"] == "edit"
    assert decided["data"]["edited_fields"] == ["letter"]
    diff = decided["payloads"][decided["data"]["edit_sha256"]]["letter"]
    assert "-Madame," in diff and "+Madame Bennani," in diff
    assert delivered["data"]["status"] == "succeeded" and len(delivered["data"]["pdf_sha256"]) == 64
    # citizens' identifiers are redacted for the auditor, in the request and the prompt alike
    request = created["payloads"][created["data"]["request_sha256"]]
    prompt = draft["payloads"][draft["data"]["prompt_sha256"]]
    for shown in (request["text"], prompt[1]["content"]):
        assert "AB123456" not in shown and "06 12 34 56 78" not in shown
        assert "[CIN …456]" in shown and "[phone …678]" in shown
    assert timeline["reference"].startswith("IDR-")


def test_only_auditors_read_the_log_and_every_read_is_recorded(api: TestClient) -> None:
    assert api.get("/api/v1/audit/events", headers=NOBODY).status_code == 401
    refused = api.get("/api/v1/audit/events", headers=AMINA)
    assert refused.status_code == 403
    assert "read_audit" in refused.json()["detail"]
    assert api.get("/api/v1/audit/events?kind=case.created", headers=OMAR).status_code == 200
    reads = api.get("/api/v1/audit/events?kind=audit.read", headers=OMAR).json()["events"]
    assert [(r["actor"], r["data"]["query"]) for r in reads] == [
        ("omar", {"kind": "case.created", "limit": 100})
    ]


def test_events_filter_by_case_actor_model_node_and_time(api: TestClient) -> None:
    case_id = _run_to_completion(api)
    get = lambda query: api.get(f"/api/v1/audit/events?{query}", headers=OMAR).json()  # noqa: E731
    by_case = get(f"case={case_id}")["events"]
    assert len(by_case) == 10 and {e["case_id"] for e in by_case} == {case_id}
    assert {e["kind"] for e in get("by=youssef")["events"]} == {
        "approval.decided",
        "step.finished",
    }
    assert [e["data"]["step"] for e in get("node=node-rabat-1")["events"]] == ["draft"]
    assert {e["data"]["step"] for e in get("model=smollm2-135m")["events"]} == {"draft"}
    first = by_case[0]["ts"]
    assert get(f"until={first}&case={case_id}")["events"] == []
    assert get("since=2030-01-01T00:00:00Z")["events"] == []
    page = get("limit=3")
    assert page["count"] == 3 and page["next_after_seq"] == page["events"][-1]["seq"]
    assert get(f"after_seq={page['next_after_seq']}&limit=1")["events"][0]["seq"] == 4
    bad = api.get(
        "/api/v1/audit/events?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z", headers=OMAR
    )
    assert bad.status_code == 422 and "before" in bad.json()["detail"]


def _cli(*args: str) -> Any:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_an_export_verifies_offline_and_a_changed_entry_is_named(
    api: TestClient, tmp_path: Path
) -> None:
    _run_to_completion(api)
    good = _cli("audit", "export", str(tmp_path / "good"), "--as", "omar")
    assert good.exit_code == 0, good.output
    verified = _cli("audit", "verify", str(tmp_path / "good"))
    assert verified.exit_code == 0, verified.output
    assert "OK export" in verified.output
    # someone with the database's owner rights switches the trigger off and edits entry 5
    engine = get_engine()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_entries_no_update"))
        connection.execute(text("UPDATE audit_entries SET actor = 'karim' WHERE seq = 5"))
    _cli("audit", "export", str(tmp_path / "tampered"), "--as", "omar")
    failed = _cli("audit", "verify", str(tmp_path / "tampered"))
    assert failed.exit_code == 1
    assert "entry 5" in failed.output


def test_a_case_proof_verifies_and_a_forged_one_does_not(api: TestClient, tmp_path: Path) -> None:
    case_id = _run_to_completion(api)
    proof = tmp_path / "proof.json"
    made = _cli("audit", "prove", case_id, "--out", str(proof))
    assert made.exit_code == 0, made.output
    assert "11 inclusion proof(s)" in made.output  # the case's 10 and the proof's own entry
    assert _cli("audit", "verify", str(proof)).exit_code == 0
    forged = json.loads(proof.read_text())
    forged["proofs"][5]["entry"]["actor"] = "karim"  # who approved, changed
    proof.write_text(json.dumps(forged))
    failed = _cli("audit", "verify", str(proof))
    assert failed.exit_code == 1 and "FAIL" in failed.output


def test_a_rotated_key_is_recorded_and_both_keys_verify(api: TestClient, tmp_path: Path) -> None:
    _run_to_completion(api)
    assert _cli("audit", "checkpoint").exit_code == 0
    rotated = _cli("audit", "rotate-key", "--as", "nadia")
    assert rotated.exit_code == 0 and "new key:" in rotated.output
    _run_to_completion(api)
    assert _cli("audit", "export", str(tmp_path / "out")).exit_code == 0
    keys = (tmp_path / "out" / "keys.txt").read_text().split()
    assert len(keys) == 2
    verified = _cli("audit", "verify", str(tmp_path / "out"))
    assert verified.exit_code == 0, verified.output
    entries = [json.loads(line) for line in (tmp_path / "out" / "entries.jsonl").open()]
    rotation = [e for e in entries if e["kind"] == "audit.key_rotated"]
    assert len(rotation) == 1 and rotation[0]["actor"] == "nadia"
    assert rotation[0]["data"]["previous"] == keys[0] and rotation[0]["data"]["key"] == keys[1]
    # pinning only the old key: the checkpoints the new key signed are not trusted
    pinned = _cli("audit", "verify", str(tmp_path / "out"), "--key", keys[0])
    assert pinned.exit_code == 1


@pytest.mark.parametrize("since", ["2020-01-01T00:00:00", None])
def test_an_export_of_a_time_range_still_verifies(
    api: TestClient, tmp_path: Path, since: str | None
) -> None:
    _run_to_completion(api)
    with session_scope() as session:
        cut = session.execute(text("SELECT ts FROM audit_entries WHERE seq = 6")).scalar_one()
    args = ["--since", since] if since else ["--until", cut[:19]]
    result = _cli("audit", "export", str(tmp_path / "range"), *args)
    assert result.exit_code == 0, result.output
    assert _cli("audit", "verify", str(tmp_path / "range")).exit_code == 0


def test_cancelling_a_case_at_its_approval_ends_the_approval_step_in_the_log(
    api: TestClient,
) -> None:
    case_id, _ = _to_approval(api)
    cancelled = api.post(
        f"/api/v1/cases/{case_id}/cancel", json={"reason": "doublon"}, headers=AMINA
    )
    assert cancelled.status_code == 200
    events = api.get(f"/api/v1/audit/cases/{case_id}", headers=OMAR).json()["events"]
    last_two = [(e["kind"], e["actor"], e["data"].get("status")) for e in events[-2:]]
    assert last_two == [("step.finished", "amina", "cancelled"), ("case.cancelled", "amina", None)]


def test_a_failed_step_keeps_its_error_out_of_the_chain(api: TestClient) -> None:
    """A model's output quoted in an error may hold personal data: the entry has its hash."""
    case_id, _ = _to_approval(api)
    with session_scope() as session:
        run = state.load_run(session, case_id)
        step_id = run.steps["deliver"].id
        assert step_id is not None
        state.mark_step_failed(session, run.steps["deliver"], "bad output: 'CIN AB123456'")
    with session_scope() as session:
        row = (
            session.execute(
                text(
                    "SELECT data FROM audit_entries WHERE kind = 'step.finished' ORDER BY seq DESC"
                )
            )
            .scalars()
            .first()
        )
    data = row if isinstance(row, dict) else json.loads(row)  # PostgreSQL decodes JSON itself
    assert "AB123456" not in json.dumps(data) and len(data["error_sha256"]) == 64
    timeline = api.get(f"/api/v1/audit/cases/{case_id}", headers=OMAR).json()["events"]
    failed = timeline[-1]
    assert failed["payloads"][failed["data"]["error_sha256"]] == "bad output: 'CIN [CIN …456]'"


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("since=2026-01-01T00:00:00&until=2030-01-01T00:00:00Z", 200),  # naive and aware
        ("since=9999-12-31T23:59:59-05:00", 422),  # past year 9999 once in UTC
        ("after_seq=99999999999999999999", 422),
        ("since=yesterday", 422),
    ],
)
def test_odd_filters_get_an_answer_not_a_server_error(
    api: TestClient, query: str, status: int
) -> None:
    response = api.get(f"/api/v1/audit/events?{query}", headers=OMAR)
    assert response.status_code == status, response.text


def test_an_export_into_a_used_directory_is_refused_and_not_recorded(
    api: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    refused = _cli("audit", "export", str(tmp_path / "used"))
    assert refused.exit_code == 1 and "not an empty directory" in refused.output
    with session_scope() as session:
        exported = session.execute(
            text("SELECT count(*) FROM audit_entries WHERE kind = 'audit.exported'")
        ).scalar_one()
    assert exported == 0
