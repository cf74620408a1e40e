"""``idara demo``: the stack on loopback, the sample requests, a progress bar, the results."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from orchestrator import client
from orchestrator.audit import exporter
from orchestrator.audit.verify import verify_path
from orchestrator.cli.case_view import print_case
from orchestrator.db import make_engine
from orchestrator.demo import DEMO_CLERK, DemoPerson, demo_people, load_requests
from orchestrator.settings import Settings, get_settings
from orchestrator.sovereignty import egress
from orchestrator.stack import Stack, StackError, start_stack


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
        people = demo_people(settings)
        clerk = people[DEMO_CLERK]
        cases = _submit_all(requests, clerk)
        waiting = _follow(cases, stack, console, "agent steps", clerk)
        _approve_all(waiting, people, console)
        finished = _follow(cases, stack, console, "delivery", clerk)
        for case in finished:
            print_case(case, console)
        failed = [c["reference"] for c in finished if c["status"] != "completed"]
        elapsed = time.perf_counter() - started
        if failed:
            console.print(
                f"[bold red]{len(failed)} case(s) did not complete:[/] {', '.join(failed)}"
            )
            return 1
        console.print(
            f"[bold green]{len(finished)} cases completed[/] in {elapsed:.1f} s; documents:"
        )
        for case in finished:
            for document in case["documents"]:
                console.print(
                    f"  {case['reference']} ({case['procedure']}): {document['path']}",
                    soft_wrap=True,
                )
        if not _export_and_verify_audit(settings, console):
            return 1
        _report_egress(console)
        if keep_running:
            console.print(
                f"the stack stays up at {settings.api_base_url} (web interface: "
                f"{settings.api_base_url}/ui/; `idara users password NAME` lets someone sign "
                "in); Ctrl-C stops it"
            )
            _hold(stack)
        return 0
    except (client.ApiError, StackError) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 1
    finally:
        stack.stop()


def _export_and_verify_audit(settings: Settings, console: Console) -> bool:
    """What an auditor would do next: export the log and verify it offline."""
    out = settings.data_dir / "audit" / time.strftime("export-%Y%m%d-%H%M%S")
    engine = make_engine(settings.effective_database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            summary = exporter.export(session, settings, out, "demo")
    finally:
        engine.dispose()
    report = verify_path(out)
    if not report.ok:
        console.print(f"[bold red]audit log does not verify:[/] {report.problems[0]}")
        return False
    console.print(
        f"audit log: {summary.entries} entries, {report.checkpoints} signed checkpoint(s), "
        f"exported to {out} and verified offline in {report.elapsed_s:.2f} s "
        f"(idara audit verify {out})",
        soft_wrap=True,
    )
    return True


def _report_egress(console: Console) -> None:
    """What the egress guard saw in every process of the stack during the demo."""
    path = egress.attempts_path()
    count = len(path.read_text().splitlines()) if path.exists() else 0
    colour = "green" if count == 0 else "bold red"
    console.print(
        f"egress: [{colour}]{count} connection(s) out of the premises attempted[/] "
        f"(idara sovereignty check for the whole list)"
    )


def _submit_all(
    requests: list[tuple[str, dict[str, Any]]], clerk: DemoPerson
) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    return [client.submit(body, f"demo-{run}-{name}", clerk.token) for name, body in requests]


def _approve_all(
    cases: list[dict[str, Any]], people: dict[str, DemoPerson], console: Console
) -> None:
    """Play the supervisors: each approval is decided by a supervisor of its group, over HTTP."""
    deciders = {group: person for person in people.values() for group in person.groups}
    waiting = {c["id"] for c in cases if c["status"] == "awaiting_approval"}
    for group, person in sorted(deciders.items()):
        user = person.name
        for item in client.inbox(person.token):
            if item["case_id"] not in waiting or item["group"] != group:
                continue
            client.decide(item["id"], {"decision": "approve", "reason": "demo"}, person.token)
            waiting.discard(item["case_id"])
            console.print(
                f"  [green]✓[/] {item['case_reference']}: {item['step']} approved by {user} "
                f"({group})"
            )


def _follow(
    cases: list[dict[str, Any]], stack: Stack, console: Console, label: str, clerk: DemoPerson
) -> list[dict[str, Any]]:
    """Show progress until every case has ended or waits for a person."""
    total_steps = sum(len(case["steps"]) for case in cases)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(label, total=total_steps)
        while True:
            stack.check_alive()
            current = [client.get_case(case["id"], clerk.token) for case in cases]
            done = sum(
                1
                for case in current
                for step in case["steps"]
                if step["status"] in client.ENDED_STEPS
            )
            running = [c for c in current if c["status"] not in client.SETTLED]
            detail = running[0]["status_detail"] if running else "done"
            progress.update(bar, completed=done, description=f"{label} · {detail[:50]}")
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
