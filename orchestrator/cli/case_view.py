"""A case as the CLI shows it: waiting for it to settle, then its panel, each step's line and
figures."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from orchestrator.client import SETTLED, ApiError, get_case


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
