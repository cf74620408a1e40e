"""``idara eval``: run a procedure's agent steps on a labelled dataset and score them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from orchestrator.evaluation.report import SYSTEM_NAMES

console = Console()
err = Console(stderr=True)


def eval_command(
    dataset: Annotated[
        Path, typer.Argument(help="A JSONL dataset, or a folder of them (seeds/eval/triage)")
    ],
    procedure: Annotated[str, typer.Option(help="The procedure whose steps are evaluated")],
    step: Annotated[
        list[str] | None, typer.Option(help="A step to score (repeatable); default: the items'")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="A catalogue model to use instead of the steps' own")
    ] = None,
    split: Annotated[str, typer.Option(help="tune, report or all")] = "report",
    limit: Annotated[
        int | None, typer.Option(help="Only N items, taken in turn from each language", min=1)
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for the report; default .idara/eval/<time>")
    ] = None,
    min_accuracy: Annotated[
        float | None, typer.Option(help="Gate: fail below this accuracy (classification)")
    ] = None,
    max_language_gap: Annotated[
        float | None, typer.Option(help="Gate: fail when languages' accuracies differ more")
    ] = None,
    max_invented: Annotated[
        int | None, typer.Option(help="Gate: fail above this many invented values")
    ] = None,
) -> None:
    """Run PROCEDURE's agent steps on DATASET through the node's own code, print accuracy,
    macro-F1, per-language figures and baselines (classification) or precision, recall and
    invented values (extraction), write report.json, report.md and a confusion matrix; exit 1
    when a gate fails. Each run is an eval.run entry of the audit log."""
    from orchestrator.evaluation import dataset as datasets
    from orchestrator.evaluation import report as reports
    from orchestrator.evaluation.runner import EvalError, evaluate
    from orchestrator.settings import get_settings

    if split not in ("tune", "report", "all"):
        _fail(f"--split must be tune, report or all, not {split!r}")
    settings = get_settings()
    try:
        loaded = datasets.load(dataset, split, procedure)
    except datasets.DatasetError as exc:
        _fail(str(exc))
        return
    if limit is not None:
        loaded.items = datasets.first_of_each_language(loaded.items, limit)
    if not loaded.items:
        _fail(f"{dataset} has no {split} item for procedure {procedure!r}")
    gate = reports.Gate(min_accuracy, max_language_gap, max_invented)
    columns = (
        TextColumn("evaluating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("items", total=len(loaded.items))
            report = evaluate(
                settings,
                loaded,
                procedure,
                step or None,
                model,
                lambda done, total: bar.update(task, completed=done, total=total),
                gate,
            )
    except (EvalError, datasets.DatasetError) as exc:
        _fail(str(exc))
        return
    except Exception as exc:  # a model that cannot load, a database that cannot open
        _fail(f"{type(exc).__name__}: {exc}")
        return
    folder = (
        out or settings.data_dir / "eval" / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{procedure}-{split}"
    )
    written = reports.write(report, folder)
    _print(report)
    console.print(
        f"report: {escape(str(written[-1]))} (and {', '.join(p.name for p in written[:-1])})"
    )
    failures = report["gate"]["failures"]
    if failures:
        _fail("the gate failed: " + "; ".join(failures))


def _print(report: dict[str, Any]) -> None:
    run = report["run"]
    console.print(
        f"[bold]{run['procedure']} v{run['procedure_version']}[/] on {run['items']} items "
        f"({', '.join(f'{k} {v}' for k, v in run['languages'].items())}), model "
        f"{', '.join(run['model'])}, {run['seconds']} s"
    )
    for name, step in report["steps"].items():
        cost = step["cost"]
        console.print(
            f"\n[bold]{name}[/] ({step['kind']}): {cost['seconds']['p50']} s and "
            f"{cost['prompt_tokens']['p50']:.0f}+{cost['completion_tokens']['p50']:.0f} tokens "
            f"per item (median); {step['errors']} errors"
        )
        if step["kind"] == "classification":
            _print_classification(step)
        else:
            _print_extraction(step)


def _print_classification(step: dict[str, Any]) -> None:
    systems = step["systems"]
    languages = sorted(systems["step"]["languages"])
    table = Table("", "accuracy", "macro-F1", *languages)
    for name, title in SYSTEM_NAMES.items():
        if name in systems:
            row = systems[name]
            table.add_row(
                title,
                f"{row['accuracy']:.3f}",
                f"{row['macro_f1']:.3f}",
                *(f"{row['languages'][lang]['accuracy']:.2f}" for lang in languages),
            )
    console.print(table)
    console.print(f"gap between languages: {step['language_gap']:.3f}")
    if step["below_lexical_baseline"] or not step["beats_lexical_baseline"]:
        console.print(
            "[yellow]flagged: the step does not beat the lexical baseline[/] "
            f"(below it in: {', '.join(step['below_lexical_baseline']) or 'none'})"
        )


def _print_extraction(step: dict[str, Any]) -> None:
    table = Table("field", "stated", "given", "correct", "invented", "wrong", "precision", "recall")
    for name, row in [*step["fields"].items(), ("all fields", step["overall"])]:
        table.add_row(
            name,
            *(str(row[key]) for key in ("stated", "given", "correct", "invented", "wrong")),
            f"{row['precision']:.2f}",
            f"{row['recall']:.2f}",
        )
    console.print(table)
    languages = Table("language", "items", "precision", "recall", "invented")
    for language, row in step["languages"].items():
        languages.add_row(
            language,
            str(row["items"]),
            f"{row['precision']:.2f}",
            f"{row['recall']:.2f}",
            str(row["invented"]),
        )
    console.print(languages)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)
