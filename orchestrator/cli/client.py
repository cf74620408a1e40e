"""A small HTTP client of the idara API, for the CLI."""

from __future__ import annotations

import os
import time
from functools import cache
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from orchestrator.cli.options import TOKEN_ENV
from orchestrator.settings import get_settings

TERMINAL = {"completed", "failed", "rejected", "cancelled"}
SETTLED = TERMINAL | {"awaiting_approval"}


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


def wait_for(
    case_id: str, console: Console, timeout_s: float = 900, token: str | None = None
) -> dict[str, Any]:
    """Wait until the case ends or waits for a person."""
    deadline = time.monotonic() + timeout_s
    with console.status("waiting for the case…") as status:
        while time.monotonic() < deadline:
            case = get_case(case_id, token)
            if case["status"] in SETTLED:
                return case
            status.update(f"{case['reference']}: {case['status']} — {case['status_detail']}")
            time.sleep(0.5)
    raise ApiError(f"case {case_id} did not finish within {timeout_s:.0f} s")


def print_case(case: dict[str, Any], console: Console) -> None:
    """A case as a clerk reads it: what each step found, the letter, the documents, figures."""
    colour = {"completed": "green", "failed": "red", "rejected": "red"}.get(
        case["status"], "yellow"
    )
    head = Table.grid(padding=(0, 2))
    head.add_row("status", f"[{colour}]{case['status']}[/] {case['status_detail']}")
    if case.get("error"):
        head.add_row("error", f"[red]{case['error']}[/]")
    if case.get("due_at"):
        late = " [red](overdue)[/]" if case.get("overdue") else ""
        head.add_row("deadline", f"{case['due_at'][:16].replace('T', ' ')} UTC{late}")
    for step in case["steps"]:
        summary = step_summary(step)
        if summary:
            head.add_row(step["name"], summary)
    for document in case.get("documents", []):
        head.add_row("document", document["path"])
    head.add_row("url", case["url"])
    console.print(
        Panel(
            head,
            title=f"{case['reference']} · {case['procedure']} "
            f"v{case['procedure_version']} · {case['language']}",
            expand=False,
        )
    )
    letter = next(
        (
            (step.get("edited_output") or step["output"]).get("letter")
            for step in reversed(case["steps"])
            if step["status"] == "succeeded" and (step.get("output") or {}).get("letter")
        ),
        None,
    )
    if letter:
        console.print(Panel(letter, title="letter", expand=False))
    _print_step_figures(case, console)


def step_summary(step: dict[str, Any]) -> str:
    """One line on what a step produced."""
    output = step.get("output") or {}
    if step["status"] == "skipped":
        return "[dim]skipped[/]"
    if step["status"] != "succeeded":
        return f"[yellow]{step['status']}[/]" if step["status"] != "pending" else ""
    if step["kind"] == "rule":
        failures = "; ".join(output.get("messages", []))
        return "[green]passed[/]" if output.get("passed") else f"[red]not passed:[/] {failures}"
    if step["kind"] == "human_approval":
        return f"{output.get('decision')} by {output.get('decided_by')}"
    if step["kind"] == "deliver":
        return f"{output.get('pages')} page(s), pdf sha256 {str(output.get('pdf_sha256'))[:12]}…"
    shown = {k: v for k, v in output.items() if k not in {"letter", "language", "evidence"}}
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    dropped = [k for k, v in (output.get("evidence") or {}).items() if "dropped" in v]
    if dropped:  # said first: the line may be cut
        text = f"[yellow]dropped, not in the request: {', '.join(dropped)}[/]; {text}"
    return text if len(text) < 160 else text[:157] + "…"


def _print_step_figures(case: dict[str, Any], console: Console) -> None:
    steps = Table("step", "kind", "status", "node", "tokens in/out", "model s", "latency s")
    for step in case["steps"]:
        steps.add_row(
            step["name"],
            step["kind"],
            step["status"],
            step.get("node") or "",
            f"{step.get('prompt_tokens') or 0}/{step.get('completion_tokens') or 0}",
            f"{(step.get('model_ms') or 0) / 1000:.2f}",
            f"{(step.get('latency_ms') or 0) / 1000:.2f}",
        )
    console.print(steps)
