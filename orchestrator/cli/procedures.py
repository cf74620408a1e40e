"""``idara procedures …``: validate, publish and list procedure versions (on the database)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.audit import events
from orchestrator.db import migrated_session
from orchestrator.procedures import service
from orchestrator.procedures.json_schema import procedure_json_schema
from orchestrator.procedures.schemas import ProcedureDefinition
from orchestrator.settings import get_settings

app = typer.Typer(help="Validate, publish and list procedure versions.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(help="A procedure YAML file")]


def _load_or_exit(file: Path) -> ProcedureDefinition:
    try:
        return service.load_definition(file)
    except service.ProcedureError as exc:
        err.print(f"[bold red]invalid:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc


@app.command()
def validate(file: FileArg) -> None:
    """Check a procedure file; every problem is listed with its line and field."""
    definition = _load_or_exit(file)
    console.print(
        f"[green]valid:[/] {definition.name} v{definition.version} "
        f"({len(definition.steps)} steps: {', '.join(s.name for s in definition.steps)})"
    )


@app.command()
def publish(file: FileArg) -> None:
    """Publish a procedure version. A published version never changes; cases already filed
    keep the version they started with."""
    definition = _load_or_exit(file)
    try:
        with migrated_session(get_settings().effective_database_url) as session:
            row, created = service.publish(session, definition, events.cli_actor())
    except service.ProcedureError as exc:
        err.print(f"[bold red]refused:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    verb = "published" if created else "already published (same content)"
    console.print(f"[green]{verb}:[/] {row.name} v{row.version} sha256 {row.definition_sha256}")


@app.command("list")
def list_versions() -> None:
    """Every published version of every procedure."""
    with migrated_session(get_settings().effective_database_url) as session:
        rows = service.list_versions(session)
        table = Table("procedure", "version", "title", "steps", "published (UTC)", "sha256")
        for row in rows:
            steps = service.definition_of(row).steps
            table.add_row(
                row.name,
                str(row.version),
                row.title,
                str(len(steps)),
                f"{row.published_at:%Y-%m-%d %H:%M}",
                row.definition_sha256[:12],
            )
    console.print(table)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the procedure format (docs/procedure.schema.json)."""
    print(json.dumps(procedure_json_schema(), indent=2, ensure_ascii=False))
