"""``idara approvals …``: a supervisor's inbox and decisions, through the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from orchestrator import client
from orchestrator.cli.options import TokenOpt

app = typer.Typer(help="A supervisor's approvals: list, show, decide.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


@app.command("list")
def list_inbox(token: TokenOpt = None) -> None:
    """The approvals waiting for the groups this supervisor decides for."""
    try:
        items = client.inbox(token)
    except client.ApiError as exc:
        _fail(str(exc))
        return
    table = Table("approval", "case", "procedure", "step", "group", "due (UTC)")
    for item in items:
        due = item["due_at"][:16].replace("T", " ")
        table.add_row(
            item["id"],
            item["case_reference"],
            f"{item['procedure']} v{item['procedure_version']}",
            item["step"],
            item["group"] + (" (escalated)" if item["escalations"] else ""),
            f"[red]{due} overdue[/]" if item["overdue"] else due,
        )
    console.print(table if items else "no approval is waiting for you")


@app.command()
def decide(
    approval_id: Annotated[str, typer.Argument(help="Approval id (see `idara approvals list`)")],
    decision: Annotated[str, typer.Argument(help="approve, reject or edit")],
    token: TokenOpt = None,
    reason: Annotated[str | None, typer.Option(help="Required to reject")] = None,
    subject: Annotated[str | None, typer.Option(help="edit: the corrected subject")] = None,
    letter_file: Annotated[
        Path | None, typer.Option(help="edit: a file holding the corrected letter")
    ] = None,
) -> None:
    """Approve, reject (with --reason) or edit the draft and approve it."""
    body: dict[str, Any] = {"decision": decision, "reason": reason}
    if decision == "edit":
        edit = {}
        if subject:
            edit["subject"] = subject
        if letter_file:
            edit["letter"] = letter_file.read_text(encoding="utf-8")
        body["edit"] = edit
    try:
        approval = client.decide(approval_id, body, token)
    except client.ApiError as exc:
        _fail(str(exc))
        return
    console.print(
        Panel(
            f"{approval['case_reference']}: {approval['step']} {approval['status']} "
            f"by {approval['decided_by']}",
            expand=False,
        )
    )
