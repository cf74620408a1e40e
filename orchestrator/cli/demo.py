"""``idara demo``: the stack on loopback, the sample requests, a progress bar, the results."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from orchestrator.cli import client
from orchestrator.cli.stack import Stack, StackError
from orchestrator.db import make_engine, migrate
from orchestrator.procedures.service import publish_directory
from orchestrator.settings import Settings, get_settings


def prepare_database(settings: Settings) -> list[str]:
    """Migrate the schema and publish the seed procedures; return the procedure names."""
    url = settings.effective_database_url
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return [row.name for row in publish_directory(session, settings.procedures_dir)]
    finally:
        engine.dispose()


def start_stack(settings: Settings, models: list[str], console: Console) -> Stack:
    stack = Stack(settings, models=models)
    steps = [
        ("Redis (broker)", stack.start_redis),
        ("Prefect server (the first start takes about 25 s)", stack.start_prefect),
        ("database migrations and procedures", lambda: prepare_database(settings)),
        ("node worker", stack.start_worker),
        ("API", stack.start_api),
        ("engine", stack.start_engine),
        ("node worker: model loaded and listening", stack.wait_for_worker),
    ]
    try:
        with console.status("") as status:
            for label, action in steps:
                status.update(f"starting {label}…")
                started = time.perf_counter()
                action()
                console.print(f"  [green]✓[/] {label} ({time.perf_counter() - started:.1f} s)")
    except BaseException:
        stack.stop()
        raise
    return stack


def load_requests(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise StackError(f"no request files (*.json) in {directory}")
    return [(path.name, json.loads(path.read_text(encoding="utf-8"))) for path in files]


def run_demo(console: Console, keep_running: bool, requests_dir: Path | None) -> int:
    settings = get_settings()
    requests = load_requests(requests_dir or settings.seeds_dir / "requests")
    console.print(
        f"[bold]idara demo[/]: {len(requests)} requests, data in {settings.data_dir.resolve()}"
    )
    started = time.perf_counter()
    try:
        stack = start_stack(settings, ["smollm2-135m"], console)
    except StackError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 1
    try:
        cases = _submit_all(requests)
        finished = _follow(cases, stack, console)
        for case in finished:
            client.print_case(case, console)
        failed = [c["reference"] for c in finished if c["status"] != "completed"]
        elapsed = time.perf_counter() - started
        if failed:
            console.print(f"[bold red]{len(failed)} case(s) failed:[/] {', '.join(failed)}")
            return 1
        console.print(f"[bold green]{len(finished)} cases completed[/] in {elapsed:.1f} s")
        if keep_running:
            console.print(f"the stack stays up at {settings.api_base_url}; Ctrl-C stops it")
            _hold(stack)
        return 0
    except (client.ApiError, StackError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 1
    finally:
        stack.stop()


def _submit_all(requests: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    return [client.submit(body, idempotency_key=f"demo-{run}-{name}") for name, body in requests]


def _follow(cases: list[dict[str, Any]], stack: Stack, console: Console) -> list[dict[str, Any]]:
    total_steps = sum(len(case["steps"]) for case in cases)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("agent steps", total=total_steps)
        while True:
            stack.check_alive()
            current = [client.get_case(case["id"]) for case in cases]
            done = sum(
                1
                for case in current
                for step in case["steps"]
                if step["status"] in {"succeeded", "failed"}
            )
            running = [c for c in current if c["status"] not in client.TERMINAL]
            detail = running[0]["status_detail"] if running else "done"
            progress.update(bar, completed=done, description=f"agent steps · {detail[:50]}")
            if not running:
                return current
            time.sleep(0.5)


def _hold(stack: Stack) -> None:
    try:
        while True:
            stack.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        pass
