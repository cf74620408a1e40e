"""Filing and reading cases over HTTP, on SQLite and PostgreSQL, with no broker running."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from orchestrator.cases import service
from orchestrator.db import session_scope

TRIAGE = "citizen-request-triage"
TRIAGE_STEPS = ["classify", "extract", "draft_acknowledgement", "approve", "deliver"]
LICENCE = "business-licence-application"


def _body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "procedure": TRIAGE,
        "text": "Je demande un extrait de naissance.",
        "language": "fr",
    }
    body.update(overrides)
    return body


def test_a_case_is_stored_queued_with_its_planned_steps_even_without_redis(api: TestClient) -> None:
    response = api.post("/api/v1/cases", json=_body(applicant={"full_name": "Amina B"}))
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["status"] == "queued"
    assert case["reference"].startswith("IDR-")
    assert [s["name"] for s in case["steps"]] == TRIAGE_STEPS
    assert case["procedure_version"] == 4
    assert case["due_at"] is not None and case["overdue"] is False
    assert all(s["status"] == "pending" for s in case["steps"])
    assert response.headers["Location"] == f"/api/v1/cases/{case['id']}"
    fetched = api.get(f"/api/v1/cases/{case['id']}").json()
    assert fetched["request_text"] == "Je demande un extrait de naissance."
    assert fetched["applicant"] == {"full_name": "Amina B"}


def test_language_is_detected_when_omitted(api: TestClient) -> None:
    body = _body(text="السلام عليكم، أطلب شهادة السكنى من فضلكم.")
    del body["language"]
    assert api.post("/api/v1/cases", json=body).json()["language"] == "ar"


def test_darija_is_recorded_as_written_and_answered_in_arabic_unless_french_is_asked(
    api: TestClient,
) -> None:
    body = _body(text="salam 3afak bghit n3raf chno khasni bach ndir l'extrait dyal weldi")
    del body["language"]
    case = api.post("/api/v1/cases", json=body).json()
    assert case["request_language"] == "ary-Latn" and case["language"] == "ar"
    chosen = api.post("/api/v1/cases", json=_body(language="ary", reply_language="fr")).json()
    assert chosen["request_language"] == "ary" and chosen["language"] == "fr"
    refused = api.post("/api/v1/cases", json=_body(reply_language="ary"))
    assert refused.status_code == 422 and "reply_language" in refused.text


def test_the_same_idempotency_key_returns_the_same_case(api: TestClient) -> None:
    headers = {"Idempotency-Key": "clerk-42-request-7"}
    first = api.post("/api/v1/cases", json=_body(), headers=headers)
    again = api.post("/api/v1/cases", json=_body(), headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"]
    assert api.get("/api/v1/cases").json()["total"] == 1


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(api: TestClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    api.post("/api/v1/cases", json=_body(), headers=headers)
    response = api.post("/api/v1/cases", json=_body(text="autre chose"), headers=headers)
    assert response.status_code == 409
    assert "different request" in response.json()["detail"]
    assert api.get("/api/v1/cases").json()["total"] == 1


def test_unknown_procedure_is_404_naming_the_available_ones(api: TestClient) -> None:
    response = api.post("/api/v1/cases", json=_body(procedure="passport-renewal"))
    assert response.status_code == 404
    assert TRIAGE in response.json()["detail"]
    assert response.json()["available"] == [
        "birth-certificate-request",
        LICENCE,
        TRIAGE,
    ]


def test_empty_or_missing_text_is_422_and_nothing_is_stored(api: TestClient) -> None:
    assert api.post("/api/v1/cases", json=_body(text="   \n")).status_code == 422
    body = _body()
    del body["text"]
    assert api.post("/api/v1/cases", json=body).status_code == 422
    assert api.get("/api/v1/cases").json()["total"] == 0


def test_text_above_the_limit_is_413_with_the_limit(api: TestClient) -> None:
    response = api.post("/api/v1/cases", json=_body(text="a" * 501))
    assert response.status_code == 413
    assert response.json()["limit"] == 500
    assert "500" in response.json()["detail"]
    assert api.get("/api/v1/cases").json()["total"] == 0


def test_invalid_applicant_fields_are_all_reported(api: TestClient) -> None:
    response = api.post("/api/v1/cases", json=_body(applicant={"cin": "123", "shoe_size": "42"}))
    assert response.status_code == 422
    problems = {tuple(e["loc"]): e["msg"] for e in response.json()["errors"]}
    assert "invalid format" in problems[("body", "applicant", "cin")]
    assert "unknown field" in problems[("body", "applicant", "shoe_size")]
    assert api.get("/api/v1/cases").json()["total"] == 0


def test_unknown_fields_and_languages_are_422(api: TestClient) -> None:
    assert api.post("/api/v1/cases", json=_body(language="de")).status_code == 422
    assert api.post("/api/v1/cases", json=_body(priority="vip")).status_code == 422


def test_unknown_case_is_404(api: TestClient) -> None:
    response = api.get("/api/v1/cases/not-a-case")
    assert response.status_code == 404
    assert "no case" in response.json()["detail"]


def test_list_filters_and_pages(api: TestClient) -> None:
    for i in range(3):
        api.post("/api/v1/cases", json=_body(text=f"demande {i}"))
    page = api.get("/api/v1/cases", params={"limit": 2, "status": "queued"}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    assert api.get("/api/v1/cases", params={"status": "completed"}).json()["total"] == 0
    assert api.get("/api/v1/cases", params={"status": "lost"}).status_code == 422
    assert api.get("/api/v1/cases", params={"limit": 0}).status_code == 422


def test_procedures_lists_the_seeded_triage(api: TestClient) -> None:
    procedures = api.get("/api/v1/procedures").json()
    triage = next(p for p in procedures if p["name"] == TRIAGE)
    assert triage["version"] == 4
    assert triage["steps"] == TRIAGE_STEPS
    assert any(f["name"] == "cin" for f in triage["applicant_fields"])


def test_healthz_reports_an_unreachable_broker_but_stays_up(api: TestClient) -> None:
    health = api.get("/healthz").json()
    assert health["status"] == "ok" and health["database"] == "ok"
    assert health["broker"].startswith("unreachable")


def _licence(**applicant: object) -> dict[str, object]:
    values: dict[str, object] = {
        "full_name": "Hicham Amrani",
        "cin": "AB12345",
        "business_name": "Café Atlas",
        "activity": "restaurant",
        "surface_m2": "80",
        "address": "12 rue Atlas, Fès",
        "documents": ["cin_copy", "site_plan"],
    }
    values.update(applicant)
    return {"procedure": LICENCE, "text": "Je demande une autorisation.", "applicant": values}


def test_typed_applicant_fields_are_stored_typed(api: TestClient) -> None:
    response = api.post("/api/v1/cases", json=_licence())
    assert response.status_code == 201, response.text
    applicant = response.json()["applicant"]
    assert applicant["surface_m2"] == 80
    assert applicant["documents"] == ["cin_copy", "site_plan"]


def test_every_wrong_typed_field_is_reported_at_once(api: TestClient) -> None:
    body = _licence(activity="bakery", surface_m2="big", documents=["passport"], cin="123")
    response = api.post("/api/v1/cases", json=body)
    assert response.status_code == 422
    errors = {e["loc"][-1]: e["msg"] for e in response.json()["errors"]}
    assert "must be one of: retail_shop, restaurant, workshop" in errors["activity"]
    assert "whole number" in errors["surface_m2"]
    assert "unknown choices ['passport']" in errors["documents"]
    assert "invalid format" in errors["cin"]
    assert api.get("/api/v1/cases").json()["total"] == 0


def test_a_case_is_found_by_its_reference(api: TestClient) -> None:
    case = api.post("/api/v1/cases", json=_body()).json()
    assert api.get(f"/api/v1/cases/{case['reference'].lower()}").json()["id"] == case["id"]


def test_resume_needs_a_failed_case_and_cancel_an_open_one(api: TestClient) -> None:
    case = api.post("/api/v1/cases", json=_body()).json()
    resumed = api.post(f"/api/v1/cases/{case['id']}/resume")
    assert resumed.status_code == 409
    assert "only a failed case can be resumed" in resumed.json()["detail"]
    cancelled = api.post(f"/api/v1/cases/{case['id']}/cancel", json={"reason": "duplicate"})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["status_detail"] == "cancelled: duplicate"
    assert {s["status"] for s in cancelled.json()["steps"]} == {"cancelled"}
    again = api.post(f"/api/v1/cases/{case['id']}/cancel")
    assert again.status_code == 409 and "can no longer be cancelled" in again.json()["detail"]


def test_a_document_of_an_unfinished_case_is_404(api: TestClient) -> None:
    case = api.post("/api/v1/cases", json=_body()).json()
    missing = api.get(f"/api/v1/cases/{case['id']}/documents/deliver.pdf")
    assert missing.status_code == 404 and "no delivered document" in missing.json()["detail"]
    assert api.get(f"/api/v1/cases/{case['id']}/documents/deliver.exe").status_code == 404


def test_a_concurrent_retry_with_the_same_key_returns_the_first_case(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry passed the key check before the first request committed: the unique key
    refuses its insert, and it answers with the first case (and no second audit entry)."""
    first = api.post("/api/v1/cases", json=_body(), headers={"Idempotency-Key": "K-race"})
    real = service._by_idempotency_key
    calls: list[str] = []

    def not_yet_committed(session: Any, key: str, digest: str, actor: Any) -> Any:
        calls.append(key)
        return None if len(calls) == 1 else real(session, key, digest, actor)

    monkeypatch.setattr(service, "_by_idempotency_key", not_yet_committed)
    retry = api.post("/api/v1/cases", json=_body(), headers={"Idempotency-Key": "K-race"})
    assert retry.status_code == 200 and retry.json()["id"] == first.json()["id"]
    with session_scope() as session:
        created = session.execute(
            text("SELECT count(*) FROM audit_entries WHERE kind = 'case.created'")
        ).scalar_one()
    assert created == 1
