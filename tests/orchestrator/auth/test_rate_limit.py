"""Per-user submission limit: past it, 429 with Retry-After, nothing written; others go on."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from orchestrator.settings import get_settings
from tests.orchestrator.conftest import as_user
from tests.orchestrator.test_overload import _count

BODY = {"procedure": "citizen-request-triage", "text": "Je demande un extrait.", "language": "fr"}


def test_a_user_past_the_limit_gets_429_and_others_are_not_held_back(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDARA_SUBMISSIONS_PER_MINUTE", "3")
    get_settings.cache_clear()
    for n in range(3):
        filed = api.post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": f"k{n}"})
        assert filed.status_code == 201
    before = (_count("cases"), _count("audit_entries"))
    refused = api.post("/api/v1/cases", json=BODY)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["retry_after_s"] == int(refused.headers["Retry-After"])
    assert "amina filed 3 cases in the last minute (the limit is 3)" in refused.json()["detail"]
    assert (_count("cases"), _count("audit_entries")) == before
    replay = api.post("/api/v1/cases", json=BODY, headers={"Idempotency-Key": "k0"})
    assert replay.status_code == 200  # a retry of a filed case is not a new submission
    assert api.post("/api/v1/cases", json=BODY, headers=as_user("hamid")).status_code == 201
