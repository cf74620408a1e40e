"""``idara models …``: the signed model catalogue (docs/models.md).

Every command works on this host's files only (catalogue, model files, ops key): no database,
no API, no network. ``add`` and ``remove`` sign the catalogue again with the ops key;
``list`` and ``verify`` only read.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from agents import catalogue
from agents.catalogue import Catalogue
from agents.errors import ModelUnavailableError
from agents.manifest import ModelEntry, parse_manifest, read_manifest_bytes, verified_model_path
from agents.manifest import Progress as Advance
from orchestrator.settings import get_settings

app = typer.Typer(
    help="The signed model catalogue: add, list, verify and remove GGUF models.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)


def _catalogue() -> Catalogue:
    return Catalogue.from_settings(get_settings())


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def _bar(label: str, total: int) -> Iterator[Advance]:
    """A byte progress bar (model files are GBs); yields the function that advances it."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    if not console.is_terminal:  # a log or a pipe: no bar to draw
        yield lambda size: None
        return
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda size: progress.advance(task, size)


@app.command()
def init() -> None:
    """Make the catalogue from seeds/models/manifest.json if there is none (the bundled model
    must match the sha256 pinned there) and sign it; `idara up` and `idara demo` do this."""
    where = _catalogue()
    try:
        with _bar("hashing the bundled model", _seed_size(where)) as advance:
            made = catalogue.install_from_seed(where, advance)
        trusted = catalogue.load_trusted(where)
    except ModelUnavailableError as exc:
        _fail(str(exc))
        return
    verb = "made and signed" if made else "already there, signed"
    console.print(
        f"[green]catalogue {verb}[/] by {escape(catalogue.describe(trusted.key))}: "
        f"{escape(str(where.manifest))} ({len(trusted.entries)} model(s))",
        soft_wrap=True,
    )


def _seed_size(where: Catalogue) -> int:
    if where.manifest.exists() or where.seed is None or not where.seed.exists():
        return 0
    try:
        entries = parse_manifest(read_manifest_bytes(where.seed), where.seed)
    except ModelUnavailableError:
        return 0
    return sum(entry.size or 0 for entry in entries.values())


@app.command()
def add(
    file: Annotated[Path, typer.Argument(help="The GGUF model file (e.g. on the carried media)")],
    name: Annotated[str, typer.Option(help="Name steps use (model: in procedures)")],
    license: Annotated[str, typer.Option("--license", help="Licence it is used under")],
    languages: Annotated[str, typer.Option(help="Languages it serves: ISO 639 codes, fr,ar")],
    context: Annotated[int, typer.Option(help="Context length in tokens")] = 2048,
    in_place: Annotated[
        bool, typer.Option(help="Record the file where it is instead of copying it")
    ] = False,
    source: Annotated[
        str | None, typer.Option(help="Where it came from, for the record; default: FILE")
    ] = None,
) -> None:
    """Hash FILE (copying it into the model directory), add it to the catalogue and sign the
    catalogue again with the ops key."""
    where = _catalogue()
    try:
        model = catalogue.NewModel(
            file=file,
            name=name,
            license=license,
            languages=catalogue.parse_languages(languages),
            added_by=f"cli:{getpass.getuser()}",
            context=context,
            in_place=in_place,
            source=source,
        )
        catalogue.check_new_model(model)
        with _bar(f"hashing {file.name}", file.stat().st_size) as advance:
            entry = catalogue.add_model(where, model, advance)
        signer = catalogue.ops_signer(where)
    except (ModelUnavailableError, OSError) as exc:
        _fail(str(exc))
        return
    console.print(
        f"[green]added[/] {escape(entry.name)}: {escape(str(entry.resolve_path(where.model_dir)))}"
        f" sha256 {entry.sha256}; catalogue signed by "
        f"{escape(catalogue.describe(signer.verifier))}",
        soft_wrap=True,
    )


@app.command()
def remove(name: Annotated[str, typer.Argument(help="The model's name")]) -> None:
    """Take a model out of the catalogue and sign it again (its file is left in place)."""
    where = _catalogue()
    try:
        entry = catalogue.remove_model(where, name)
    except ModelUnavailableError as exc:
        _fail(str(exc))
        return
    console.print(
        f"[green]removed[/] {escape(name)} from the catalogue; its file stays at "
        f"{escape(str(entry.resolve_path(where.model_dir)))}",
        soft_wrap=True,
    )


@app.command("list")
def list_models() -> None:
    """The models in the catalogue and whether its signature verifies (nothing is hashed:
    `idara models verify` re-hashes the files)."""
    where = _catalogue()
    try:
        data = read_manifest_bytes(where.manifest)
        entries = parse_manifest(data, where.manifest)
    except ModelUnavailableError as exc:
        _fail(f"{exc} (`idara models init`, `idara up` or `idara demo` makes it)")
        return
    table = Table()
    table.add_column("model", no_wrap=True)
    table.add_column("file", overflow="fold")
    table.add_column("size", no_wrap=True)
    table.add_column("sha256", no_wrap=True, min_width=12)
    table.add_column("licence")
    table.add_column("languages")
    for entry in entries.values():
        table.add_row(
            entry.name,
            entry.file if not entry.package else f"{entry.package}/{entry.file}",
            _size(entry.size),
            entry.sha256[:12],
            entry.license or "?",
            ",".join(entry.languages) or "?",
        )
    console.print(table)
    ok, detail = catalogue.signature_state(where, data)
    state = "[green]PASS[/]" if ok else "[bold red]FAIL[/]"
    console.print(f"signature: {state} {escape(detail)}", soft_wrap=True)


@app.command()
def verify(
    name: Annotated[str | None, typer.Argument(help="Only this model")] = None,
) -> None:
    """Check the catalogue's signature against the trusted keys and re-hash each file; one
    line per check, exit 1 when any fails."""
    where = _catalogue()
    try:
        data = read_manifest_bytes(where.manifest)
        entries = parse_manifest(data, where.manifest)
    except ModelUnavailableError as exc:
        _fail(str(exc))
        return
    if name is not None and name not in entries:
        _fail(f"no model named {name!r} in the catalogue (models: {', '.join(entries)})")
    ok, detail = catalogue.signature_state(where, data)
    _line(ok, "signature", detail)
    failed = not ok
    for entry in entries.values():
        if name is None or entry.name == name:
            failed |= not _verify_file(entry, where)
    if failed:
        raise typer.Exit(1)


@app.command()
def key() -> None:
    """Print the ops verifier key (made on first use) to give node hosts: set it in their
    IDARA_MODEL_VERIFIER_KEYS or copy ops.pub into their keys folder."""
    where = _catalogue()
    try:
        signer = catalogue.ops_signer(where)
    except ModelUnavailableError as exc:
        _fail(str(exc))
        return
    err.print(f"ops key {escape(str(where.key_file))}, verifier key:", soft_wrap=True)
    print(signer.verifier.text)


def _verify_file(entry: ModelEntry, where: Catalogue) -> bool:
    try:
        with _bar(f"hashing {entry.name}", entry.size or 0) as advance:
            path = verified_model_path(entry, where.model_dir, advance)
    except ModelUnavailableError as exc:
        _line(False, entry.name, str(exc))
        return False
    _line(True, entry.name, f"sha256 {entry.sha256} ({path})")
    return True


def _line(ok: bool, what: str, detail: str) -> None:
    state = "[green]PASS[/]" if ok else "[bold red]FAIL[/]"
    console.print(f"{state} {escape(what)}: {escape(detail)}", soft_wrap=True)


def _size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
