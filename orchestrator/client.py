"""A small HTTP client of the idara API: the CLI's commands, ``idara demo`` and the
benchmarks file cases and decide approvals through it, as any client would."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import httpx

from orchestrator.cases.lifecycle import ENDED_STEP_STATUSES, SETTLED_CASE_STATUSES
from orchestrator.settings import get_settings

TOKEN_ENV = "IDARA_TOKEN"
"""The variable holding the API token a call is made with when none is given."""

SETTLED = frozenset(status.value for status in SETTLED_CASE_STATUSES)
"""A case's statuses, as the API writes them, in which the engine does nothing more until a
person acts (ended, or waiting for a decision): what a client waiting for a case waits for."""
ENDED_STEPS = frozenset(status.value for status in ENDED_STEP_STATUSES)
"""A step's statuses, as the API writes them, in which it neither runs nor waits any more."""


class ApiError(Exception):
    pass


def _url(path: str) -> str:
    return f"{get_settings().api_base_url}{path}"


@cache
def _http() -> httpx.Client:
    """One client for the process: its connections are kept alive between calls, where a new
    client per call would set up TLS settings and a connection each time (tens of ms)."""
    return httpx.Client(timeout=30)


def _call(method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    """Call the API as the holder of ``token`` (default: the ``IDARA_TOKEN`` variable)."""
    token = token or os.environ.get(TOKEN_ENV, "")
    if not token:
        raise ApiError(
            f"no API token: set {TOKEN_ENV} to one (`idara tokens create USER` makes one)"
        )
    headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {token}"}
    try:
        response = _http().request(method, _url(path), headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise ApiError(
            f"cannot reach the idara API at {_url('')} ({exc}); is `idara up` running?"
        ) from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        raise ApiError(f"HTTP {response.status_code}: {detail}")
    return response.json()


def submit(
    body: dict[str, Any], idempotency_key: str | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return _call(  # type: ignore[no-any-return]
        "POST", "/api/v1/cases", token, json=body, headers=headers
    )


def get_case(case_id: str, token: str | None = None) -> dict[str, Any]:
    return _call("GET", f"/api/v1/cases/{case_id}", token)  # type: ignore[no-any-return]


def resume(case_id: str, token: str | None = None) -> dict[str, Any]:
    return _call("POST", f"/api/v1/cases/{case_id}/resume", token)  # type: ignore[no-any-return]


def cancel(case_id: str, reason: str | None, token: str | None = None) -> dict[str, Any]:
    body = {"reason": reason} if reason else {}
    return _call(  # type: ignore[no-any-return]
        "POST", f"/api/v1/cases/{case_id}/cancel", token, json=body
    )


def inbox(token: str | None = None) -> list[dict[str, Any]]:
    answer = _call("GET", "/api/v1/approvals", token)
    return answer["items"]  # type: ignore[no-any-return]


def decide(approval_id: str, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    return _call(  # type: ignore[no-any-return]
        "POST", f"/api/v1/approvals/{approval_id}", token, json=body
    )
