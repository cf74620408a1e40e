"""``idara bundle build OUT``: the offline bundle (``orchestrator/bundle.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from orchestrator.settings import get_settings

app = typer.Typer(help="The offline bundle for machines with no network.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@app.command("build")
def build(
    out: Annotated[Path, typer.Argument(help="A new folder to write the bundle into")],
    debian: Annotated[
        bool,
        typer.Option(
            help="Carry the Debian packages (Redis, Pango, fonts, Python 3.11 and all they "
            "depend on), downloaded from this machine's Debian mirror; --no-debian when the "
            "site installs them from its own mirror"
        ),
    ] = True,
) -> None:
    """Wheels of everything idara runs on (as installed here), the Debian packages, the
    source, the signed model catalogue and its files, and SHA256SUMS; install it with
    deploy/install-offline.sh."""
    from agents.catalogue import CatalogueError
    from orchestrator import bundle

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        tasks: dict[str, TaskID] = {}
        described = {"wheels": "repacking wheels", "debian": "downloading Debian packages"}

        def advance(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = progress.add_task(described.get(what, what), total=total)
            progress.update(tasks[what], completed=done, total=total)

        try:
            made = bundle.build(out, get_settings(), advance, debian=debian)
        except (bundle.BundleError, CatalogueError, OSError) as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from exc
    console.print(
        f"[green]bundle written:[/] {made.path} ({made.wheels} wheels, {made.files} files, "
        f"{made.size_bytes / 1e6:.0f} MB); install on the site with "
        f"`deploy/install-offline.sh {made.path}`"
    )
