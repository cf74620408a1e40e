"""What each person sees of the cases: a clerk their unit's, a supervisor those awaiting their
groups, an auditor all; another unit's case is "not found", as if it did not exist."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from orchestrator.auth import users
from orchestrator.db import get_engine
from tests.orchestrator.conftest import as_user
from tests.orchestrator.test_approvals_api import _to_approval

BODY = {"procedure": "citizen-request-triage", "text": "Je demande un extrait.", "language": "fr"}


def _colleague_of_amina() -> None:
    with Session(get_engine()) as session:
        users.add(session, "leila", "Leila", ["clerk"], "test", unit="rabat-reception")
        session.commit()


def _listed(api: TestClient, name: str) -> set[str]:
    return {c["id"] for c in api.get("/api/v1/cases", headers=as_user(name)).json()["items"]}


def test_a_clerk_sees_the_cases_of_their_unit_only(api: TestClient) -> None:
    _colleague_of_amina()
    case: dict[str, Any] = api.post("/api/v1/cases", json=BODY).json()  # filed by amina
    mine = api.post("/api/v1/cases", json=BODY, headers=as_user("hamid")).json()
    assert _listed(api, "amina") == {case["id"]}
    assert _listed(api, "leila") == {case["id"]}  # same unit
    assert _listed(api, "hamid") == {mine["id"]}
    assert _listed(api, "omar") == {case["id"], mine["id"]}  # the auditor
    for path in (f"/api/v1/cases/{case['id']}", f"/api/v1/cases/{case['reference']}"):
        other = api.get(path, headers=as_user("hamid"))
        assert other.status_code == 404 and "no case" in other.json()["detail"]
    cancel = api.post(f"/api/v1/cases/{case['id']}/cancel", headers=as_user("hamid"))
    assert cancel.status_code == 404
    assert api.get(f"/api/v1/cases/{case['id']}").json()["status"] == "queued"
    document = api.get(
        f"/api/v1/cases/{case['id']}/documents/deliver.pdf", headers=as_user("hamid")
    )
    assert document.status_code == 404


def test_a_supervisor_sees_the_cases_awaiting_their_groups_only(api: TestClient) -> None:
    case_id, _ = _to_approval(api)
    other = api.post("/api/v1/cases", json=BODY).json()
    assert _listed(api, "youssef") == {case_id}  # reception decides it
    assert _listed(api, "salma") == set()
    assert api.get(f"/api/v1/cases/{case_id}", headers=as_user("salma")).status_code == 404
    assert api.get(f"/api/v1/cases/{other['id']}", headers=as_user("youssef")).status_code == 404


def test_a_replayed_key_returns_the_case_to_its_filer_only(api: TestClient) -> None:
    key = {"Idempotency-Key": "shared-key"}
    first = api.post("/api/v1/cases", json=BODY, headers=key)
    assert first.status_code == 201
    stolen = api.post("/api/v1/cases", json=BODY, headers={**key, **as_user("hamid")})
    assert stolen.status_code == 409 and "id" not in stolen.json()
    assert first.json()["id"] not in stolen.text
