"""``idara bench``: the platform measured against its model, side by side in one run."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

app = typer.Typer(help="Benchmarks: the platform against its model.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@app.command("model")
def model(
    cases: Annotated[
        int, typer.Option(min=1, max=500, help="Triage cases filed all at once (throughput)")
    ] = 12,
    one_at_a_time: Annotated[
        int, typer.Option(min=1, max=100, help="Triage cases filed one after another (latency)")
    ] = 5,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures to this JSON file")
    ] = None,
) -> None:
    """Model efficiency and latency: triage cases through the whole platform (API, engine,
    Prefect, Celery, node, database) against the same prompts through llama-cpp-python in one
    plain process. Starts its own stack in <data dir>/bench/; takes a few minutes."""
    from orchestrator.bench import figures
    from orchestrator.bench.model import run_platform, run_prefix_replay, run_raw

    settings = _bench_settings(_data_dir(), "model")
    console.print(f"[bold]idara bench model[/]: data in {settings.data_dir}")
    with _measuring() as advance:
        platform = run_platform(settings, console, one_at_a_time, cases, advance)
        steps = [step for case in platform.all_at_once for step in case.steps]
        raw = run_raw(settings, steps, advance)
        lone = [step for case in platform.one_at_a_time for step in case.steps]
        prefixes = run_prefix_replay(settings, lone, advance)
    through = figures.platform_throughput(platform.all_at_once)
    latency = figures.latency(platform.one_at_a_time)
    result = {
        "cases_all_at_once": cases,
        "cases_one_at_a_time": one_at_a_time,
        "agent_steps": len(steps),
        "threads": raw.threads,
        "platform": asdict(through)
        | {"tokens_per_s": through.tokens_per_s, "model_busy_share": through.model_busy_share},
        "raw": asdict(raw.throughput) | {"tokens_per_s": raw.throughput.tokens_per_s},
        "platform_over_raw": through.tokens_per_s / raw.throughput.tokens_per_s,
        "raw_steps_with_same_token_count": raw.same_tokens,
        "latency": asdict(latency),
        "cpu_s_all_at_once": platform.cpu_s,
        "kept_prefixes": asdict(prefixes) | {"speed_up": prefixes.speed_up},
    }
    _print_model(result)
    _write_json(json_out, result)


@app.command("orchestration")
def orchestration(
    cases: Annotated[
        int, typer.Option(min=1, max=5000, help="Triage cases filed all at once (cases/s)")
    ] = 50,
    one_at_a_time: Annotated[
        int, typer.Option(min=1, max=100, help="Cases filed one after another (ms per case)")
    ] = 5,
    postgres: Annotated[
        str | None,
        typer.Option(
            help="Also run on this PostgreSQL database (an SQLAlchemy URL, "
            "postgresql+psycopg://…) and print PostgreSQL ÷ embedded"
        ),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures to this JSON file")
    ] = None,
) -> None:
    """Orchestration ceiling: the triage procedure with the BENCHMARK-ONLY instant agent
    backend (no model; orchestrator/bench/instant.py), so every second measured is the
    platform's own: API, engine, Prefect, Celery, node, database."""
    from orchestrator.bench import figures
    from orchestrator.bench.model import run_platform

    base = _data_dir()
    backends = {"embedded": None} | ({"postgresql": postgres} if postgres else {})
    result: dict[str, Any] = {"cases_all_at_once": cases, "cases_one_at_a_time": one_at_a_time}
    for backend, url in backends.items():
        settings = _bench_settings(base, f"orchestration-{backend}", url)
        console.print(f"[bold]{backend}[/]: data in {settings.data_dir}")
        with _measuring() as advance:
            run = run_platform(
                settings, console, one_at_a_time, cases, advance, node_module=INSTANT_NODE
            )
        latency = figures.latency(run.one_at_a_time)
        result[backend] = {
            "cases_per_s": figures.cases_per_s(run.all_at_once),
            "ms_per_case_p50": latency.p50_s * 1000,
            "ms_per_case_p95": latency.p95_s * 1000,
            "cpu_ms_per_case": {name: s * 1000 / cases for name, s in run.cpu_s.items()},
        }
    _print_orchestration(result, list(backends))
    _write_json(json_out, result)


INSTANT_NODE = "orchestrator.bench.instant_node"


class ScaleBy(StrEnum):
    nodes = "nodes"
    processes = "processes"


@app.command("scaling")
def scaling(
    counts: Annotated[
        str, typer.Option(help="Worker counts to measure, comma-separated; the first is the base")
    ] = "1,2,4",
    by: Annotated[
        ScaleBy,
        typer.Option(
            help="nodes: that many node processes; processes: one node with that many "
            "worker processes"
        ),
    ] = ScaleBy.nodes,
    cases: Annotated[
        int, typer.Option(min=1, max=5000, help="Triage cases filed all at once per count")
    ] = 40,
    with_model: Annotated[
        bool,
        typer.Option(
            "--model/--instant",
            help="The real model (llama.cpp threads split evenly: cores ÷ workers, at least "
            "1) or the BENCHMARK-ONLY instant backend (the platform's own scaling)",
        ),
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures to this JSON file")
    ] = None,
) -> None:
    """Scaling: the same cases with 1, 2, 4… nodes (or worker processes of one node), each
    count on a fresh stack; throughput, speed-up over the first count, and efficiency."""
    from orchestrator.bench import figures
    from orchestrator.bench.model import run_platform

    workers = _counts(counts)
    base = _data_dir()
    cores = os.cpu_count() or 1
    points = []
    for count in workers:
        settings = _bench_settings(base, f"scaling-{by.value}-{count}")
        shape: dict[str, Any] = {"nodes" if by is ScaleBy.nodes else "worker_concurrency": count}
        if with_model:
            shape["node_threads"] = max(1, cores // count)
        else:
            shape["node_module"] = INSTANT_NODE
        console.print(f"[bold]{count} {by.value}[/]: data in {settings.data_dir}")
        with _measuring() as advance:
            run = run_platform(settings, console, 0, cases, advance, **shape)
        points.append(_scaling_point(count, run.all_at_once, with_model))
    rows = figures.scaled(points)
    result = {
        "by": by.value,
        "backend": "model" if with_model else "instant",
        "cases": cases,
        "cores": cores,
        "points": rows,
    }
    _print_scaling(result)
    _write_json(json_out, result)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or any(not 1 <= count <= 16 for count in counts):
        err.print(
            f"[bold red]error:[/] --counts {text!r}: give whole numbers from 1 to 16, "
            "comma-separated (1,2,4)"
        )
        raise typer.Exit(2)
    return counts


def _scaling_point(count: int, cases: list[Any], with_model: bool) -> Any:
    from orchestrator.bench import figures

    if not with_model:
        return figures.ScalingPoint(count, figures.cases_per_s(cases))
    through = figures.platform_throughput(cases)
    return figures.ScalingPoint(
        count,
        figures.cases_per_s(cases),
        through.tokens_per_s,
        through.model_busy_share / count,
    )


def _print_scaling(result: dict[str, Any]) -> None:
    model = result["backend"] == "model"
    title = "real model" if model else "instant agent backend, no model"
    table = Table(title=f"scaling by {result['by']} ({result['cases']} cases at once, {title})")
    columns = [result["by"], "cases/s", "speed-up", "efficiency"]
    columns += ["tokens/s", "model busy per worker"] if model else []
    for column in columns:
        table.add_column(column, justify="right")
    for row in result["points"]:
        cells = [str(row["workers"]), f"{row['cases_per_s']:.2f}", f"{row['speed_up']:.2f}"]
        cells.append(f"{row['efficiency']:.2f}")
        if model:
            cells += [f"{row['tokens_per_s']:.1f}", f"{row['model_busy_share']:.1%}"]
        table.add_row(*cells)
    console.print(table)


def _write_json(path: Path | None, result: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        err.print(f"[bold red]error:[/] cannot write {path}: {escape(str(exc))}")
        raise typer.Exit(1) from exc
    console.print(f"figures written to {path}")


def _print_orchestration(result: dict[str, Any], backends: list[str]) -> None:
    table = Table(title="orchestration ceiling (instant agent backend, no model)")
    table.add_column("")
    for backend in backends:
        table.add_column(backend, justify="right")
    if len(backends) == 2:
        table.add_column("postgresql ÷ embedded", justify="right")
    rows = (
        (f"cases/s ({result['cases_all_at_once']} at once)", "cases_per_s", "{:.2f}"),
        ("ms per case, p50 (one at a time)", "ms_per_case_p50", "{:.0f}"),
        ("ms per case, p95 (one at a time)", "ms_per_case_p95", "{:.0f}"),
    )
    for label, key, spelling in rows:
        values = [result[backend][key] for backend in backends]
        cells = [spelling.format(value) for value in values]
        if len(values) == 2:
            cells.append(f"{values[1] / values[0]:.2f}" if values[0] else "")
        table.add_row(label, *cells)
    console.print(table)
    for backend in backends:
        spent = sorted(result[backend]["cpu_ms_per_case"].items(), key=lambda item: -item[1])
        console.print(
            f"{backend}: CPU ms per case while the cases filed at once ran (all "
            f"{sum(ms for _, ms in spent):.0f}): " + ", ".join(f"{n} {ms:.0f}" for n, ms in spent)
        )


def _data_dir() -> Path:
    from orchestrator.settings import get_settings

    return get_settings().data_dir.resolve()


def _bench_settings(base: Path, name: str, database_url: str | None = None) -> Any:
    """A data dir of the run's own under ``base``, so a benchmark starts from an empty
    database and leaves the demo's alone; the filing rate limit is lifted for the benchmark's
    clerk."""
    from orchestrator.settings import get_settings

    os.environ["IDARA_DATA_DIR"] = str(base / "bench" / time.strftime(f"{name}-%Y%m%d-%H%M%S"))
    os.environ["IDARA_SUBMISSIONS_PER_MINUTE"] = "1000000"
    if database_url:
        os.environ["IDARA_DATABASE_URL"] = database_url
    else:
        os.environ.pop("IDARA_DATABASE_URL", None)
    get_settings.cache_clear()
    return get_settings()


@contextmanager
def _measuring() -> Iterator[Callable[[str, int, int], None]]:
    """The phases' progress bars; a benchmark that cannot measure (a service that does not
    start, a case that fails, a model refused for the replay) ends with its reason, exit 1."""
    from agents.errors import AgentError
    from orchestrator.bench.model import BenchError
    from orchestrator.client import ApiError
    from orchestrator.stack import StackError

    try:
        with _bars() as advance:
            yield advance
    except (BenchError, StackError, ApiError, AgentError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc


@contextmanager
def _bars() -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per phase, made when the phase first reports; the display starts
    then too, after the stack's own start-up lines."""
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    )
    tasks: dict[str, TaskID] = {}

    def advance(phase: str, done: int, total: int) -> None:
        if not tasks:
            progress.start()
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    try:
        yield advance
    finally:
        progress.stop()


def _print_model(result: dict[str, Any]) -> None:
    platform, raw, latency = result["platform"], result["raw"], result["latency"]
    table = Table(title="model efficiency (same prompts, same model, same threads)")
    for column in ("", "platform", "raw llama-cpp-python", "platform ÷ raw"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(
        f"generated tokens/s ({result['cases_all_at_once']} cases at once, "
        f"{result['agent_steps']} agent steps)",
        f"{platform['tokens_per_s']:.1f}",
        f"{raw['tokens_per_s']:.1f}",
        f"{result['platform_over_raw']:.3f}",
    )
    table.add_row(
        "tokens, seconds",
        f"{platform['tokens']}, {platform['wall_s']:.1f} s",
        f"{raw['tokens']}, {raw['wall_s']:.1f} s",
        "",
    )
    console.print(table)
    console.print(
        f"the model was at work {platform['model_busy_share']:.1%} of the platform's "
        f"{platform['wall_s']:.1f} s ({platform['model_s']:.1f} s generating on the node)"
    )
    console.print(
        f"latency, filing → awaiting approval ({result['cases_one_at_a_time']} cases one at a "
        f"time): p50 {latency['p50_s']:.2f} s, p95 {latency['p95_s']:.2f} s; "
        f"outside the model: {latency['outside_model_share']:.1%}"
    )
    spent = sorted(result["cpu_s_all_at_once"].items(), key=lambda item: -item[1])
    console.print(
        "CPU seconds while the cases filed at once ran (the node's include the model's "
        f"{result['threads']} threads): " + ", ".join(f"{name} {s:.1f}" for name, s in spent)
    )
    kept = result["kept_prefixes"]
    console.print(
        f"kept prompt prefixes (what a node does), the {kept['steps']} steps of the cases filed "
        f"one at a time replayed here: model calls {kept['kept_model_s']:.1f} s against "
        f"{kept['plain_model_s']:.1f} s plain ({kept['speed_up']:.2f} times as fast); "
        f"{kept['reused_tokens']} prompt tokens not evaluated again; the same output in "
        f"{kept['same_outputs']} of {kept['steps']}"
    )
    console.print(
        f"raw replay: {result['raw_steps_with_same_token_count']} of {result['agent_steps']} "
        f"steps generated as many tokens as on the platform; {result['threads']} threads; "
        f"its model calls took {raw['model_s']:.1f} s, the node's {platform['model_s']:.1f} s"
    )
