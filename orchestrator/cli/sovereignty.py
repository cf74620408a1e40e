"""``idara sovereignty check``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(help="Check that nothing leaves the premises.", no_args_is_help=True)
console = Console()
COLOURS = {"PASS": "green", "FAIL": "bold red", "WARN": "yellow"}


@app.command()
def check() -> None:
    """Telemetry off, endpoints internal, model files verified, egress guard active; exits 1
    when a line fails (WARN: not built yet)."""
    from orchestrator.settings import get_settings
    from orchestrator.sovereignty.check import run

    with console.status("checking (model files are hashed)…"):
        lines = run(get_settings())
    for line in lines:
        colour = COLOURS[line.status]
        console.print(
            f"[{colour}]{line.status}[/] {escape(line.what)}: {escape(line.detail)}",
            soft_wrap=True,
        )
    failed = [line for line in lines if line.status == "FAIL"]
    console.print(f"{len(lines) - len(failed)} of {len(lines)} lines without a failure")
    if failed:
        raise typer.Exit(1)
