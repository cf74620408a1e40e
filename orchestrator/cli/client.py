"""A small HTTP client of the idara API, for the CLI."""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from orchestrator.settings import get_settings

TERMINAL = {"completed", "failed"}


class ApiError(Exception):
    pass


def _url(path: str) -> str:
    return f"{get_settings().api_base_url}{path}"


def _call(method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = httpx.request(method, _url(path), timeout=30, **kwargs)
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


def submit(body: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return _call("POST", "/api/v1/cases", json=body, headers=headers)  # type: ignore[no-any-return]


def get_case(case_id: str) -> dict[str, Any]:
    return _call("GET", f"/api/v1/cases/{case_id}")  # type: ignore[no-any-return]


def wait_for(case_id: str, console: Console, timeout_s: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for the case…") as status:
        while time.monotonic() < deadline:
            case = get_case(case_id)
            if case["status"] in TERMINAL:
                return case
            status.update(f"{case['reference']}: {case['status']} — {case['status_detail']}")
            time.sleep(0.5)
    raise ApiError(f"case {case_id} did not finish within {timeout_s:.0f} s")


def print_case(case: dict[str, Any], console: Console) -> None:
    """A case as a clerk reads it: routing, extracted fields, the letter, and step figures."""
    outputs = {step["name"]: step.get("output") or {} for step in case["steps"]}
    colour = {"completed": "green", "failed": "red"}.get(case["status"], "yellow")
    head = Table.grid(padding=(0, 2))
    head.add_row("status", f"[{colour}]{case['status']}[/] {case['status_detail']}")
    if case.get("error"):
        head.add_row("error", f"[red]{case['error']}[/]")
    classify = outputs.get("classify", {})
    if classify:
        head.add_row("department", str(classify.get("department")))
        head.add_row("urgency", str(classify.get("urgency")))
    for key, value in outputs.get("extract", {}).items():
        head.add_row(key.replace("_", " "), str(value))
    head.add_row("url", case["url"])
    console.print(
        Panel(
            head,
            title=f"{case['reference']} · {case['procedure']} "
            f"v{case['procedure_version']} · {case['language']}",
            expand=False,
        )
    )
    letter = outputs.get("draft_acknowledgement", {}).get("letter")
    if letter:
        console.print(Panel(letter, title="acknowledgement letter", expand=False))
    steps = Table("step", "status", "node", "tokens in/out", "model s", "tok/s", "latency s")
    for step in case["steps"]:
        steps.add_row(
            step["name"],
            step["status"],
            step.get("node") or "",
            f"{step.get('prompt_tokens') or 0}/{step.get('completion_tokens') or 0}",
            f"{(step.get('model_ms') or 0) / 1000:.2f}",
            f"{step.get('tokens_per_s') or 0:.1f}",
            f"{(step.get('latency_ms') or 0) / 1000:.2f}",
        )
    console.print(steps)
