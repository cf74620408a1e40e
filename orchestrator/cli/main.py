"""``idara``: run the stack, the demo, and talk to a running API."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator import telemetry
from orchestrator.auth import log_masking
from orchestrator.cli.options import TokenOpt
from orchestrator.sovereignty import egress

telemetry.disable()
egress.install()
log_masking.install()

app = typer.Typer(
    help="idara: sovereign agentic automation for public administrations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _add_subcommands() -> None:
    from orchestrator.cli import (
        approvals,
        audit,
        bench,
        bundle,
        eval,
        models,
        nodes,
        procedures,
        sovereignty,
        users,
    )

    app.add_typer(procedures.app, name="procedures")
    app.add_typer(approvals.app, name="approvals")
    app.add_typer(audit.app, name="audit")
    app.add_typer(sovereignty.app, name="sovereignty")
    app.add_typer(users.users_app, name="users")
    app.add_typer(users.tokens_app, name="tokens")
    app.add_typer(models.app, name="models")
    app.add_typer(nodes.node_app, name="node")
    app.add_typer(nodes.nodes_app, name="nodes")
    app.add_typer(bundle.app, name="bundle")
    app.add_typer(bench.app, name="bench")
    app.command(name="eval")(eval.eval_command)


_add_subcommands()


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


@app.command()
def up(
    models: Annotated[
        str, typer.Option(help="Models the local node serves (comma-separated)")
    ] = "smollm2-135m",
) -> None:
    """Run the stack in the foreground (Redis, Prefect, API, engine, node); Ctrl-C stops it."""
    from orchestrator.settings import get_settings
    from orchestrator.stack import StackError, start_stack

    settings = get_settings()
    try:
        stack = start_stack(settings, models.split(","), console)
    except StackError as exc:
        _fail(str(exc))
        return
    console.print(
        f"[green]idara is up[/] at {settings.api_base_url}: web interface "
        f"{settings.api_base_url}/ui/ (give people a password with `idara users password "
        f"NAME`), API docs {settings.api_base_url}/docs. Ctrl-C stops it."
    )
    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    try:
        while not stopping["now"]:
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        err.print(f"[red]{exc}[/]")
    finally:
        console.print("stopping idara…")
        stack.stop()


@app.command()
def demo(
    keep_running: Annotated[bool, typer.Option(help="Leave the stack up afterwards")] = False,
    requests_dir: Annotated[Path | None, typer.Option(help="Folder of request JSON files")] = None,
) -> None:
    """Start the stack, run the sample requests from seeds/, print each case's result."""
    from orchestrator.cli.demo import run_demo

    code = run_demo(console, keep_running=keep_running, requests_dir=requests_dir)
    raise typer.Exit(code)


@app.command()
def submit(
    file: Annotated[str, typer.Argument(help="A JSON request file, or - for standard input")],
    wait: Annotated[bool, typer.Option(help="Wait until the case finishes")] = False,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Makes a retry return the same case")
    ] = None,
    token: TokenOpt = None,
) -> None:
    """File a request with a running API: {"procedure", "text", "language", "applicant"}."""
    from orchestrator import client
    from orchestrator.cli.case_view import print_case, wait_for

    try:
        raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        body = json.loads(raw)
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"cannot read a JSON request from {file}: {exc}")
        return
    try:
        case = client.submit(body, idempotency_key, token)
        console.print(
            f"case [bold]{case['reference']}[/] ({case['id']}) {case['status']}: {case['url']}"
        )
        if wait:
            case = wait_for(case["id"], console, token=token)
            print_case(case, console)
    except client.ApiError as exc:
        _fail(str(exc))


@app.command()
def status(
    case_id: Annotated[str, typer.Argument(help="Case id or reference")], token: TokenOpt = None
) -> None:
    """Show a case's status and every step's result."""
    from orchestrator import client
    from orchestrator.cli.case_view import print_case

    try:
        print_case(client.get_case(case_id, token), console)
    except client.ApiError as exc:
        _fail(str(exc))


@app.command()
def resume(
    case_id: Annotated[str, typer.Argument(help="Case id or reference")], token: TokenOpt = None
) -> None:
    """Run a failed case again from its failed step (the finished steps are not re-run)."""
    from orchestrator import client

    try:
        case = client.resume(case_id, token)
    except client.ApiError as exc:
        _fail(str(exc))
        return
    console.print(f"case [bold]{case['reference']}[/] {case['status']}: {case['status_detail']}")


@app.command()
def cancel(
    case_id: Annotated[str, typer.Argument(help="Case id or reference")],
    reason: Annotated[str | None, typer.Option(help="Why, for the record")] = None,
    token: TokenOpt = None,
) -> None:
    """Cancel a case that has not ended; its open approvals are withdrawn."""
    from orchestrator import client

    try:
        case = client.cancel(case_id, reason, token)
    except client.ApiError as exc:
        _fail(str(exc))
        return
    console.print(f"case [bold]{case['reference']}[/] {case['status']}")


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema and publish the procedures in seeds/."""
    from orchestrator.procedures.service import ProcedureError
    from orchestrator.seeding import prepare_database
    from orchestrator.settings import get_settings

    try:
        names = prepare_database(get_settings())
    except ProcedureError as exc:
        _fail(str(exc))
        return
    console.print(f"database ready; procedures: {', '.join(names)}")


@app.command()
def engine() -> None:
    """Run the procedure engine (claims queued cases and runs them as Prefect flows)."""
    from orchestrator.settings import get_settings

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    os.environ.setdefault("PREFECT_API_URL", settings.effective_prefect_api_url)
    from orchestrator.engine.runner import Engine

    runner = Engine(settings)
    signal.signal(signal.SIGTERM, lambda *_: runner.stopping.set())
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        runner.stopping.set()


def main() -> Any:
    return app()


if __name__ == "__main__":
    main()
