"""Schemathesis against the app's own OpenAPI document: generated requests (valid and invalid)
to every operation, signed in as a user who may call it, on SQLite and PostgreSQL; no answer
may be a server error. Bounded (``EXAMPLES`` per operation, derandomized) to fit in CI."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlmodel import Session

from orchestrator.app import create_app
from orchestrator.auth import users
from orchestrator.db import get_engine
from orchestrator.settings import get_settings
from tests.orchestrator.conftest import as_user

EXAMPLES = 40
SENT: Counter[str] = Counter()
"""Requests sent per operation and database (printed to IDARA_BENCH_OUT when it is set)."""


def _acting_user(path: str) -> str:
    """A seed person whose role holds the operation's permission."""
    if path.startswith("/api/v1/approvals"):
        return "youssef"  # supervisor
    if path.startswith("/api/v1/audit"):
        return "omar"  # auditor
    return "amina"  # clerk


def _headers(path: str) -> dict[str, str]:
    if path == "/api/v1/auth/logout":  # a permitted logout revokes the token it is called with
        with Session(get_engine()) as session:
            _, token = users.create_token(session, "amina", "fuzz", "test")
            session.commit()
        return {"Authorization": f"Bearer {token}"}
    return as_user(_acting_user(path))


schema = schemathesis.openapi.from_dict(create_app().openapi())
"""The document the app serves at /openapi.json; requests go to a fresh app per database."""


@pytest.fixture
def fuzzed(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("IDARA_SUBMISSIONS_PER_MINUTE", "1000000")  # fuzz filings, not the limit
    get_settings.cache_clear()
    return api


def _for_httpx(request: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis's requests-style arguments, as httpx (TestClient) takes them."""
    request = dict(request)
    if isinstance(request.get("data"), bytes | str):
        request["content"] = request.pop("data")
    request.pop("timeout", None)
    request.pop("verify", None)
    return request


@schema.parametrize()
@pytest.mark.filterwarnings("ignore:Setting per-request cookies:DeprecationWarning")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_gets_a_server_error(
    case: Any, fuzzed: TestClient, database_url: str
) -> None:
    request = case.as_transport_kwargs(headers=_headers(case.operation.path))
    response = fuzzed.request(**_for_httpx(request))
    key = f"{case.method} {case.operation.path} [{database_url.split(':')[0]}]"
    SENT[key] += 1
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if out := os.environ.get("IDARA_BENCH_OUT"):
        with Path(out).open("a", encoding="utf-8") as handle:
            handle.write(f"fuzz {key} {response.status_code}\n")
