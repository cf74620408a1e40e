"""An evaluation's gate, and its report: JSON, Markdown, and a confusion-matrix picture."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SYSTEM_NAMES = {
    "step": "the step",
    "vote": "its nearest examples' vote",
    "labels": "its label scores alone",
    "model": "its model alone",
    "lexical_1nn": "lexical 1-NN baseline",
    "majority": "majority-class baseline",
}


@dataclass(frozen=True)
class Gate:
    min_accuracy: float | None = None
    max_language_gap: float | None = None
    max_invented: int | None = None

    def failures(self, report: dict[str, Any]) -> list[str]:
        """What the report misses of this gate, one sentence each (none: it passes)."""
        failed = []
        for name, step in report["steps"].items():
            if step["kind"] == "classification":
                accuracy = step["systems"]["step"]["accuracy"]
                if self.min_accuracy is not None and accuracy < self.min_accuracy:
                    failed.append(f"{name}: accuracy {accuracy:.3f} < {self.min_accuracy}")
                gap = step["language_gap"]
                if self.max_language_gap is not None and gap > self.max_language_gap:
                    failed.append(
                        f"{name}: the gap between languages {gap:.3f} > {self.max_language_gap}"
                    )
            elif self.max_invented is not None and step["invented"] > self.max_invented:
                failed.append(f"{name}: {step['invented']} invented values > {self.max_invented}")
        return failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_accuracy": self.min_accuracy,
            "max_language_gap": self.max_language_gap,
            "max_invented": self.max_invented,
        }


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """``report.json``, ``report.md`` and a ``confusion-<step>.png`` per classification step."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json"]
    written[0].write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    pictures = {}
    for name, step in report["steps"].items():
        if step["kind"] == "classification":
            pictures[name] = out / f"confusion-{name}.png"
            confusion_png(step["labels"], step["confusion"], pictures[name], name)
            written.append(pictures[name])
    (out / "report.md").write_text(markdown(report, pictures), encoding="utf-8")
    written.append(out / "report.md")
    return written


def markdown(report: dict[str, Any], pictures: dict[str, Path]) -> str:
    run = report["run"]
    lines = [
        f"# Evaluation of {run['procedure']} v{run['procedure_version']}",
        "",
        f"- model: {', '.join(run['model'])} "
        f"(sha256 {', '.join(digest[:16] for digest in run['model_sha256'])}…)",
        f"- dataset: {', '.join(run['dataset_files'])} (sha256 {run['dataset_sha256'][:16]}…), "
        f"{run['items']} items: "
        + ", ".join(f"{lang} {count}" for lang, count in run["languages"].items()),
        f"- run: {run['at']}, {run['seconds']} s, {run['threads']} threads",
    ]
    if report.get("gate"):
        gate = report["gate"]
        verdict = "passed" if not gate["failures"] else "FAILED: " + "; ".join(gate["failures"])
        lines.append(f"- gate {gate['thresholds']}: {verdict}")
    for name, step in report["steps"].items():
        lines += ["", f"## Step `{name}` ({step['kind']}, prompt {step['prompt']})", ""]
        lines += _cost(step)
        if step["kind"] == "classification":
            lines += _classification(step, pictures.get(name))
        else:
            lines += _extraction(step)
    return "\n".join(lines) + "\n"


def _cost(step: dict[str, Any]) -> list[str]:
    cost = step["cost"]
    return [
        f"Per item: {cost['seconds']['p50']} s median ({cost['seconds']['p90']} s p90), "
        f"{cost['prompt_tokens']['p50']:.0f} prompt and {cost['completion_tokens']['p50']:.0f} "
        f"generated tokens median; {step['errors']} errors; prompt file sha256 "
        f"{step['prompt_file_sha256'][:16]}…",
        "",
    ]


def _classification(step: dict[str, Any], picture: Path | None) -> list[str]:
    systems = step["systems"]
    languages = sorted(systems["step"]["languages"])
    order = [name for name in SYSTEM_NAMES if name in systems]
    lines = []
    if step["below_lexical_baseline"] or not step["beats_lexical_baseline"]:
        lines += [
            f"**Flagged: the step does not beat the lexical baseline** "
            f"(below it in: {', '.join(step['below_lexical_baseline']) or 'none'}).",
            "",
        ]
    header = "| | accuracy | macro-F1 | " + " | ".join(languages) + " |"
    lines += [header, "|" + "---|" * (3 + len(languages))]
    for name in order:
        row = systems[name]
        cells = [f"{row['languages'][lang]['accuracy']:.2f}" for lang in languages]
        lines.append(
            f"| {SYSTEM_NAMES[name]} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", f"Gap between languages (the step): {step['language_gap']:.3f}", ""]
    lines += ["| class | support | precision | recall | F1 |", "|---|---|---|---|---|"]
    for label, row in step["per_class"].items():
        lines.append(
            f"| {label} | {row['support']} | {row['precision']:.2f} | {row['recall']:.2f} | "
            f"{row['f1']:.2f} |"
        )
    if picture is not None:
        lines += ["", f"![confusion matrix of {step['field']}]({picture.name})"]
    return lines


def _extraction(step: dict[str, Any]) -> list[str]:
    lines = [
        f"Invented values (a value where the request states nothing): **{step['invented']}**",
        "",
        "| field | stated | given | correct | invented | wrong | precision | recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [*step["fields"].items(), ("all fields", step["overall"])]
    for name, row in rows:
        lines.append(
            f"| {name} | {row['stated']} | {row['given']} | {row['correct']} | {row['invented']} "
            f"| {row['wrong']} | {row['precision']:.2f} | {row['recall']:.2f} |"
        )
    lines += ["", "| language | items | precision | recall | invented |", "|---|---|---|---|---|"]
    for language, row in step["languages"].items():
        lines.append(
            f"| {language} | {row['items']} | {row['precision']:.2f} | {row['recall']:.2f} | "
            f"{row['invented']} |"
        )
    return lines


def confusion_png(labels: list[str], matrix: list[list[int]], path: Path, title: str) -> None:
    """The matrix as a heat map: gold labels down, answers across, counts in the cells."""
    from PIL import Image, ImageDraw, ImageFont

    cell, left, top = 56, 170, 150
    size = len(labels)
    image = Image.new("RGB", (left + cell * size + 20, top + cell * size + 40), "white")
    draw = ImageDraw.Draw(image)
    font: Any
    small: Any
    try:
        font = ImageFont.truetype(FONT, 13)
        small = ImageFont.truetype(FONT, 11)
    except OSError:
        font = small = ImageFont.load_default()
    draw.text(
        (10, 8),
        f"{title}: gold (rows) against the step's answer (columns)",
        fill="black",
        font=font,
    )
    peak = max((max(row) for row in matrix), default=0) or 1
    for i, label in enumerate(labels):
        draw.text((8, top + i * cell + cell // 2 - 7), label, fill="black", font=small)
        column = Image.new("RGBA", (140, 16), (255, 255, 255, 0))
        ImageDraw.Draw(column).text((0, 0), label, fill="black", font=small)
        rotated = column.rotate(60, expand=True)
        image.paste(rotated, (left + i * cell + 8, top - rotated.height - 4), rotated)
        for j in range(size):
            value = matrix[i][j]
            shade = int(255 - 200 * value / peak)
            colour = (shade, shade, 255) if i == j else (255, shade, shade)
            box = (
                left + j * cell,
                top + i * cell,
                left + (j + 1) * cell - 2,
                top + (i + 1) * cell - 2,
            )
            draw.rectangle(box, fill=colour if value else (245, 245, 245))
            if value:
                draw.text(
                    (box[0] + cell // 2 - 8, box[1] + cell // 2 - 8),
                    str(value),
                    fill="black",
                    font=font,
                )
    image.save(path)
