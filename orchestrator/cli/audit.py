"""``idara audit …``: export, verify, prove, checkpoint and key rotation.

``verify`` needs nothing but the files it is given: no database, no network, no settings.
The other commands work on the database of the server they run on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from sqlmodel import Session

from orchestrator.settings import get_settings

app = typer.Typer(
    help="The audit log: export it, verify it offline, prove a case's entries.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who is acting (recorded); default cli:<login>")
]


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


@contextmanager
def _session() -> Iterator[Session]:
    from orchestrator.db import migrated_session

    with migrated_session(get_settings().effective_database_url) as session:
        yield session


def _errors() -> tuple[type[Exception], ...]:
    """What a command reports as a one-line error (bad input, a refused key, a broken chain)."""
    from orchestrator.audit.checkpoints import ChainBroken
    from orchestrator.audit.keys import KeyFileError
    from orchestrator.errors import IdaraError

    return (IdaraError, KeyFileError, ChainBroken, ValueError, OSError)


def _actor(value: str | None) -> str:
    from orchestrator.audit.events import cli_actor

    return value or cli_actor()


@app.command()
def export(
    out: Annotated[Path, typer.Argument(help="A new (or empty) directory to write")],
    since: Annotated[datetime | None, typer.Option(help="Entries from this time (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Entries before this time (UTC)")] = None,
    actor: ActorOption = None,
) -> None:
    """Export entries (JSONL), the signed checkpoints and the public keys. A checkpoint is
    signed first, so every exported entry is covered."""
    from orchestrator.audit import exporter

    try:
        with _session() as session, console.status("exporting the audit log…"):
            summary = exporter.export(session, get_settings(), out, _actor(actor), since, until)
    except _errors() as exc:
        _fail(str(exc))
        return
    span = f"entries {summary.first_seq} to {summary.last_seq}" if summary.entries else "no entries"
    console.print(
        f"[green]exported[/] {summary.entries} entr{'y' if summary.entries == 1 else 'ies'} "
        f"({span}), {summary.checkpoints} checkpoint(s), {summary.leaves} leaf hashes to "
        f"{escape(str(out))}\ncheck it anywhere with: idara audit verify {escape(str(out))}"
    )


@app.command()
def verify(
    path: Annotated[Path, typer.Argument(help="An export directory or a proof file")],
    key: Annotated[
        list[str] | None,
        typer.Option(help="Trust only this verifier key (repeatable); default: the file's own"),
    ] = None,
) -> None:
    """Recompute the chain, the Merkle roots and the signatures, offline. Names the first
    entry that does not verify and exits 1 when anything fails."""
    from orchestrator.audit.verify import verify_path

    with console.status("verifying…"):
        report = verify_path(path, key or ())
    source = "pinned with --key" if key else "taken from the file itself; pin them with --key"
    for used in report.keys_used:
        console.print(f"key {escape(used)} ({source})")
    if not report.ok:
        for problem in report.problems:
            err.print(f"[bold red]FAIL[/] {escape(problem)}", soft_wrap=True)
        raise typer.Exit(1)
    what = "entries" if report.kind == "export" else "proved entries"
    console.print(
        f"[green]OK[/] {report.kind}: {report.entries} {what}, {report.checkpoints} "
        f"checkpoint(s) verified in {report.elapsed_s:.2f} s"
    )


@app.command()
def prove(
    case: Annotated[str, typer.Argument(help="Case id or reference")],
    out: Annotated[Path, typer.Option("--out", help="The proof file to write")],
    actor: ActorOption = None,
) -> None:
    """Inclusion proofs of every entry of a case against a fresh signed checkpoint; check
    them with ``idara audit verify FILE``."""
    from orchestrator.audit import exporter

    try:
        with _session() as session:
            count = exporter.prove(session, get_settings(), case, out, _actor(actor))
    except _errors() as exc:
        _fail(str(exc))
        return
    console.print(f"[green]wrote[/] {count} inclusion proof(s) to {escape(str(out))}")


@app.command()
def checkpoint() -> None:
    """Sign a checkpoint over every entry now (the engine does it every N entries or T s)."""
    from orchestrator.audit import checkpoints

    try:
        with _session() as session:
            made = checkpoints.create(session, get_settings())
            latest = checkpoints.latest(session)
    except _errors() as exc:
        _fail(str(exc))
        return
    if latest is None:
        console.print("the audit log is empty; nothing to sign")
        return
    verb = "signed" if made else "already signed"
    console.print(f"{verb}: tree size {latest.tree_size}, root {latest.root_hash}")
    console.print(escape(latest.note))


@app.command("rotate-key")
def rotate_key(actor: ActorOption = None) -> None:
    """Replace the checkpoint signing key. The rotation is an audit entry; checkpoints the old
    key signed still verify, and the next checkpoint is signed with the new key."""
    from orchestrator.audit import checkpoints, keys

    settings = get_settings()
    try:
        with _session() as session:
            checkpoints.create(session, settings)  # the old key signs what it saw
            new, old = keys.rotate(session, settings, _actor(actor))
            checkpoints.create(session, settings)  # the rotation entry, signed by the new key
    except _errors() as exc:
        _fail(str(exc))
        return
    if old is not None:
        console.print(f"retired: {escape(old.verifier.text)}")
    console.print(f"[green]new key:[/] {escape(new.verifier.text)}")


@app.command()
def purge(actor: ActorOption = None) -> None:
    """Delete the personal data past its retention period (the engine does it hourly); the
    chain keeps only hashes of it and stays verifiable."""
    from orchestrator.audit import payloads

    with _session() as session:
        count = payloads.purge_expired(session, _actor(actor))
    console.print(f"deleted {count} payload(s) past their retention period")


@app.command()
def status() -> None:
    """Entries, the newest signed checkpoint and the signing keys."""
    from orchestrator.audit import chain, checkpoints, keys

    with _session() as session:
        size = chain.size(session)
        latest = checkpoints.latest(session)
        verifiers = keys.verifier_keys(session)
    signed = latest.tree_size if latest else 0
    console.print(f"entries: {size} (signed: {signed}, not yet signed: {size - signed})")
    for verifier in verifiers:
        console.print(f"key: {escape(verifier)}")


@app.command()
def bench(
    entries: Annotated[int, typer.Option(min=1, help="How many entries to verify")] = 100_000,
    workdir: Annotated[Path, typer.Option(help="Where to build the synthetic export")] = Path(
        ".idara/bench-audit"
    ),
) -> None:
    """Time ``idara audit verify`` on a synthetic export of N entries (signed checkpoints
    every 1,000 entries)."""
    import shutil

    from orchestrator.audit.bench import bench_verify

    shutil.rmtree(workdir, ignore_errors=True)
    with console.status(f"building and verifying {entries:,} entries…"):
        result = bench_verify(entries, workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    console.print(
        f"{result['entries']:,} entries: built in {result['build_s']:.2f} s, verified in "
        f"{result['verify_s']:.2f} s ({result['entries_per_s']:,.0f} entries/s), "
        f"ok={result['ok']}"
    )
