"""Approvals over HTTP: the inbox, who may decide, approve/reject/edit, deadlines, delivery.

The engine's own step functions bring a case to its approval; the draft's text is written
directly in place of a node's answer (the real model runs in test_end_to_end)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from orchestrator.db import get_engine, session_scope, utcnow
from orchestrator.engine import executors, state
from orchestrator.engine.deadlines import check_deadlines
from orchestrator.procedures.schemas import DeliverStep, HumanApprovalStep
from orchestrator.procedures.service import parse_definition, publish
from tests.orchestrator.conftest import NOBODY, SignedIn

PROCEDURE = """\
name: approval-test
version: 1
title: Approval test
steps:
  - name: draft
    kind: llm
    agent: draft_acknowledgement
    prompt: triage/draft
    prompt_version: 1
    model: smollm2-135m
  - name: approve
    kind: human_approval
    group: reception
    show: [draft]
    editable: [draft]
    due: 2h
    escalate_to: directorate
  - name: deliver
    kind: deliver
    document: [draft]
"""
DRAFT = {
    "subject": "Accusé de réception",
    "letter": "Madame,\n\nNous avons reçu votre demande.",
    "language": "fr",
}
YOUSSEF = SignedIn("youssef")  # supervisor, groups reception and civil-status
SALMA = SignedIn("salma")  # supervisor, economic-affairs
KARIM = SignedIn("karim")  # supervisor, directorate (the escalation target)
AMINA = SignedIn("amina")  # clerk


def _publish() -> None:
    with Session(get_engine()) as session:
        publish(session, parse_definition(PROCEDURE, "approval-test.yaml"))


def _to_approval(api: TestClient) -> tuple[str, str]:
    """File a case and run it as the engine does up to its approval; return (case, approval)."""
    _publish()
    body = {"procedure": "approval-test", "text": "Je demande un certificat.", "language": "fr"}
    case = api.post("/api/v1/cases", json=body).json()
    with session_scope() as session:
        assert state.claim_due_cases(session, 10) == [(case["id"], case["reference"])]
        run = state.load_run(session, case["id"])
        state.set_step(session, run.steps["draft"].id, status="succeeded", output=DRAFT)
    spec = run.definition.step("approve")
    assert isinstance(spec, HumanApprovalStep)
    approval_id = executors.open_approval(run.steps["approve"].id, spec, case["id"], run.steps)  # type: ignore[arg-type]
    return case["id"], approval_id


def _case(api: TestClient, case_id: str) -> dict[str, Any]:
    return api.get(f"/api/v1/cases/{case_id}").json()  # type: ignore[no-any-return]


def test_a_case_at_an_approval_waits_in_the_supervisors_inbox(api: TestClient) -> None:
    case_id, approval_id = _to_approval(api)
    case = _case(api, case_id)
    assert case["status"] == "awaiting_approval"
    assert case["status_detail"].startswith("awaiting approval by reception (due ")
    inbox = api.get("/api/v1/approvals", headers=YOUSSEF).json()
    assert [item["id"] for item in inbox["items"]] == [approval_id]
    item = inbox["items"][0]
    assert item["shown"] == {"draft": DRAFT} and item["original"] == DRAFT
    assert item["editable_fields"] == ["subject", "letter"] and item["overdue"] is False
    assert api.get("/api/v1/approvals", headers=SALMA).json()["total"] == 0


def test_who_may_see_and_decide(api: TestClient) -> None:
    _, approval_id = _to_approval(api)
    assert api.get("/api/v1/approvals", headers=NOBODY).status_code == 401
    unknown = {"Authorization": "Bearer idara_000000000000_" + "x" * 43}
    assert api.get("/api/v1/approvals", headers=unknown).status_code == 401
    clerk = api.get("/api/v1/approvals", headers=AMINA)
    assert clerk.status_code == 403 and "decide_approvals" in clerk.json()["detail"]
    wrong_group = api.post(
        f"/api/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=SALMA
    )
    assert wrong_group.status_code == 403
    assert "for the group reception" in wrong_group.json()["detail"]
    by_clerk = api.post(
        f"/api/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=AMINA
    )
    assert by_clerk.status_code == 403


def test_approve_queues_the_continuation_and_a_second_decision_is_409(api: TestClient) -> None:
    case_id, approval_id = _to_approval(api)
    response = api.post(
        f"/api/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=YOUSSEF
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "approved" and response.json()["decided_by"] == "youssef"
    case = _case(api, case_id)
    assert case["status"] == "queued"
    assert case["status_detail"] == "approve approved by Youssef Alaoui; continuing"
    steps = {s["name"]: s for s in case["steps"]}
    assert steps["approve"]["status"] == "succeeded"
    assert steps["approve"]["output"]["decision"] == "approved"
    assert steps["deliver"]["status"] == "pending"
    again = api.post(
        f"/api/v1/approvals/{approval_id}",
        json={"decision": "reject", "reason": "x"},
        headers=YOUSSEF,
    )
    assert again.status_code == 409 and "already approved by youssef" in again.json()["detail"]


def test_reject_needs_a_reason_and_ends_the_case(api: TestClient) -> None:
    case_id, approval_id = _to_approval(api)
    url = f"/api/v1/approvals/{approval_id}"
    no_reason = api.post(url, json={"decision": "reject", "reason": "  "}, headers=YOUSSEF)
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.json()["detail"]
    assert _case(api, case_id)["status"] == "awaiting_approval"
    rejected = api.post(
        url, json={"decision": "reject", "reason": "Mauvais service"}, headers=YOUSSEF
    )
    assert rejected.status_code == 200
    case = _case(api, case_id)
    assert case["status"] == "rejected"
    assert case["status_detail"] == "approve rejected by Youssef Alaoui: Mauvais service"
    assert [s["status"] for s in case["steps"]] == ["succeeded", "rejected", "cancelled"]


def test_an_edit_is_stored_beside_the_original_and_delivered(
    api: TestClient, tmp_path: Path
) -> None:
    case_id, approval_id = _to_approval(api)
    url = f"/api/v1/approvals/{approval_id}"
    bad = api.post(url, json={"decision": "edit", "edit": {"department": "x"}}, headers=YOUSSEF)
    assert bad.status_code == 422 and "not editable" in bad.json()["errors"][0]
    corrected = "Madame,\n\nVotre demande est complète ; le certificat suivra."
    edited = api.post(
        url, json={"decision": "edit", "edit": {"letter": corrected}}, headers=YOUSSEF
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["original"] == DRAFT
    assert edited.json()["edited"] == {**DRAFT, "letter": corrected}
    case = _case(api, case_id)
    draft = case["steps"][0]
    assert draft["output"] == DRAFT and draft["edited_output"]["letter"] == corrected
    # the continuation: the engine claims the case and runs the deliver step
    with session_scope() as session:
        state.claim_due_cases(session, 10)
        run = state.load_run(session, case_id)
    outputs = {name: s.effective_output for name, s in run.steps.items() if s.status == "succeeded"}
    spec = run.definition.step("deliver")
    assert isinstance(spec, DeliverStep)
    result = executors.run_deliver(run.steps["deliver"].id, spec, run.case, run.definition, outputs)  # type: ignore[arg-type]
    html = Path(result["html"]).read_text(encoding="utf-8")
    assert "le certificat suivra" in html and "Youssef Alaoui" in html
    pdf = api.get(f"/api/v1/cases/{case_id}/documents/deliver.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"


def test_an_approval_on_a_cancelled_case_is_409(api: TestClient) -> None:
    case_id, approval_id = _to_approval(api)
    assert api.post(f"/api/v1/cases/{case_id}/cancel").status_code == 200
    response = api.post(
        f"/api/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=YOUSSEF
    )
    assert response.status_code == 409 and "already cancelled" in response.json()["detail"]


def test_an_overdue_approval_is_escalated_with_time_moved(api: TestClient) -> None:
    case_id, approval_id = _to_approval(api)
    assert check_deadlines(utcnow() + timedelta(hours=1)) == {
        "escalated": 0,
        "overdue_approvals": 0,
        "overdue_cases": 0,
    }
    later = utcnow() + timedelta(hours=3)
    assert check_deadlines(later)["escalated"] == 1
    assert api.get("/api/v1/approvals", headers=YOUSSEF).json()["total"] == 0
    (item,) = api.get("/api/v1/approvals", headers=KARIM).json()["items"]
    assert item["id"] == approval_id and item["group"] == "directorate"
    assert item["original_group"] == "reception" and item["escalations"] == 1
    assert "escalated: reception did not decide by" in _case(api, case_id)["status_detail"]
    # overdue again: nobody further to escalate to; it is flagged, not moved
    counts = check_deadlines(later + timedelta(hours=3))
    assert counts["escalated"] == 0
    assert (
        api.post(
            f"/api/v1/approvals/{approval_id}", json={"decision": "approve"}, headers=KARIM
        ).status_code
        == 200
    )


@pytest.mark.parametrize("days", [16])
def test_a_case_past_its_deadline_is_marked_overdue(api: TestClient, days: int) -> None:
    body = {"procedure": "citizen-request-triage", "text": "Bonjour", "language": "fr"}
    case = api.post("/api/v1/cases", json=body).json()
    assert check_deadlines(utcnow() + timedelta(days=days))["overdue_cases"] == 1
    assert _case(api, case["id"])["overdue"] is True


def test_the_document_body_drops_the_letter_header_the_letterhead_shows() -> None:
    letter = "Réf. : IDR-1\nDate : 2026-11-23\n\nObjet : Demande\n\nMadame,\n\nTexte."
    assert executors.without_letter_header(letter, "IDR-1") == "Madame,\n\nTexte."
    assert executors.without_letter_header("Madame,\n\nTexte.", "IDR-1") == "Madame,\n\nTexte."
