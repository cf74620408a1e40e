"""Renders an approved document (plain text) as an official HTML page and a PDF on local disk.

The body, subject and names are citizen-influenced text. They only ever reach the template as
data (a sandboxed Jinja2 environment with autoescape on; the body is split into paragraphs and
bullet lists here, in Python), and WeasyPrint gets a URL fetcher that refuses every URL, so no
document can run template code, inject markup, reach the network or read a local file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal, NoReturn

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES_DIR = Path(__file__).parent / "templates"
LABELS_FILE = TEMPLATES_DIR / "labels.json"

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_BULLET = re.compile(r"\s*-\s+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
# C0 controls other than tab and newline, and DEL: invisible, and some are invalid in HTML.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class DocumentInput:
    template: str  # name of a template in orchestrator/documents/templates/, e.g. "letter"
    language: str  # "fr", "ar" or "en"
    reference: str  # case reference, e.g. "IDR-20261123-1A2B3C4D"
    procedure_title: str  # e.g. "Birth certificate request"
    subject: str  # the letter's subject line
    body: str  # plain text, paragraphs separated by blank lines, "- " lines are bullets
    issued_on: str  # ISO date "2026-11-23"
    approved_by: str | None  # supervisor's name, or None
    approved_at: str | None  # ISO datetime string, or None
    authority: str = ""  # issuing authority; empty means the language's default


@dataclass(frozen=True)
class RenderedDocument:
    html_path: Path
    pdf_path: Path
    html_sha256: str
    pdf_sha256: str
    pdf_pages: int


class DocumentError(Exception):
    """The document cannot be rendered; the message says what to fix."""


@dataclass(frozen=True)
class Block:
    """A paragraph (its lines are kept as line breaks) or a bullet list (its lines are items)."""

    kind: Literal["paragraph", "list"]
    lines: tuple[str, ...]


def render_document(doc: DocumentInput, out_dir: Path, stem: str) -> RenderedDocument:
    """Write out_dir/<stem>.html and out_dir/<stem>.pdf (creating out_dir); return paths, sha256s.

    Both files are rendered in memory first, then each replaces its predecessor atomically, so a
    failure or a crash never leaves a half-written document behind.
    """
    _check_stem(stem)
    html = render_html(doc)
    pdf, pages = render_pdf(html)
    html_bytes = html.encode("utf-8")
    html_path = out_dir / f"{stem}.html"
    pdf_path = out_dir / f"{stem}.pdf"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(html_path, html_bytes)
        _write_atomically(pdf_path, pdf)
    except OSError as exc:
        raise DocumentError(
            f"cannot write the document into {out_dir}: {exc.strerror or exc}; "
            "check that the directory is writable and the disk is not full"
        ) from exc
    _sync_directory(out_dir)
    return RenderedDocument(
        html_path=html_path,
        pdf_path=pdf_path,
        html_sha256=hashlib.sha256(html_bytes).hexdigest(),
        pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        pdf_pages=pages,
    )


def render_html(doc: DocumentInput) -> str:
    """The document as a self-contained HTML page (inline CSS, no external URL)."""
    name = _check_template(doc.template)
    labels = _language_labels(doc.language)
    issued_on = _parse_date(doc.issued_on)
    blocks = split_body(_clean(doc.body))
    if not blocks:
        raise DocumentError("the document body is empty: give the text of the document")
    rtl = labels["direction"] == "rtl"
    try:
        return (
            _environment()
            .get_template(f"{name}.html")
            .render(
                language=doc.language,
                direction=labels["direction"],
                page_number_corner="bottom-left" if rtl else "bottom-right",
                labels=labels,
                authority=_clean(doc.authority).strip() or labels["default_authority"],
                reference=_clean(doc.reference).strip(),
                procedure_title=_clean(doc.procedure_title).strip(),
                subject=_clean(doc.subject).strip(),
                issued_on=issued_on.isoformat(),
                issued_on_display=_format_date(issued_on, labels),
                blocks=blocks,
                approval=_approval(doc, labels),
            )
        )
    except TemplateError as exc:
        raise DocumentError(f"template {doc.template!r} failed to render: {exc}") from exc


def render_pdf(html: str) -> tuple[bytes, int]:
    """The PDF of an HTML page and its number of pages; any URL in the page stops rendering."""
    weasyprint = _weasyprint()
    from weasyprint.urls import FatalURLFetchingError

    try:
        document = weasyprint.HTML(string=html, url_fetcher=_offline_fetcher()).render()
        pdf: bytes = document.write_pdf()
    except FatalURLFetchingError as exc:
        reason = exc.__cause__ or exc
        raise DocumentError(f"PDF rendering stopped: {reason}") from exc
    except Exception as exc:
        raise DocumentError(f"PDF rendering failed: {exc}") from exc
    return pdf, len(document.pages)


def refuse_url(url: str, headers: Any = None) -> NoReturn:
    """WeasyPrint's fetch for every URL: documents are self-contained and never reach out."""
    raise DocumentError(
        f"the document refers to {url!r}, but documents may not load any URL: "
        "inline the resource in the template instead"
    )


def split_body(body: str) -> list[Block]:
    """Paragraphs (separated by blank lines) and bullet lists (lines starting with "- ").

    An indented line right after a bullet continues that bullet; other single line breaks
    are kept.
    """
    blocks: list[Block] = []
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    for chunk in _BLANK_LINE.split(text):
        for block in _split_chunk(chunk):
            if blocks and block.kind == "list" and blocks[-1].kind == "list":
                blocks[-1] = Block("list", blocks[-1].lines + block.lines)
            else:
                blocks.append(block)
    return blocks


def _split_chunk(chunk: str) -> list[Block]:
    """Split a chunk with no blank line into alternating paragraphs and bullet lists."""
    blocks: list[Block] = []
    kind: Literal["paragraph", "list"] | None = None
    lines: list[str] = []
    for raw in chunk.split("\n"):
        line = raw.strip()
        if not line:
            continue
        bullet = _BULLET.match(raw)
        if bullet and line != "-":
            new_kind: Literal["paragraph", "list"] = "list"
            line = raw[bullet.end() :].strip()
        elif kind == "list" and raw[:1].isspace():
            lines[-1] = f"{lines[-1]} {line}"
            continue
        else:
            new_kind = "paragraph"
        if kind is not None and new_kind != kind:
            blocks.append(Block(kind, tuple(lines)))
            lines = []
        kind = new_kind
        lines.append(line)
    if kind is not None:
        blocks.append(Block(kind, tuple(lines)))
    return blocks


def _approval(doc: DocumentInput, labels: dict[str, Any]) -> str | None:
    """The "Approved by … on …" line, or None when nobody is named."""
    name = _clean(doc.approved_by or "").strip()
    if not name:
        return None
    if not doc.approved_at:
        return str(labels["approved_by"]).format(name=name)
    moment = _parse_datetime(doc.approved_at)
    return str(labels["approved_by_on"]).format(
        name=name, date=_format_date(moment.date(), labels), time=moment.strftime("%H:%M")
    )


def _format_date(day: date, labels: dict[str, Any]) -> str:
    months: list[str] = labels["months"]
    return str(labels["date_format"]).format(
        day=day.day,
        month=day.month,
        year=day.year,
        month_name=months[day.month - 1] if months else "",
    )


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DocumentError(
            f"issued_on must be an ISO date like 2026-11-23, not {value!r}"
        ) from None


def _parse_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise DocumentError(
            "approved_at must be an ISO date and time like 2026-11-23T14:05:00+01:00, "
            f"not {value!r}"
        ) from None


def _clean(text: str) -> str:
    return _CONTROL_CHARS.sub("", text)


def _check_template(name: str) -> str:
    if _NAME.fullmatch(name) and (TEMPLATES_DIR / f"{name}.html").is_file():
        return name
    available = ", ".join(sorted(path.stem for path in TEMPLATES_DIR.glob("*.html")))
    raise DocumentError(f"unknown document template {name!r}: use one of {available}")


def _check_stem(stem: str) -> None:
    if not _STEM.fullmatch(stem):
        raise DocumentError(
            f"invalid file name stem {stem!r}: use letters, digits, '.', '_' and '-' only "
            "(at most 200, not starting with '.' or '-')"
        )


def _language_labels(language: str) -> dict[str, Any]:
    labels = _labels()
    if language not in labels:
        raise DocumentError(
            f"unknown document language {language!r}: use one of {', '.join(sorted(labels))}"
        )
    return labels[language]


@cache
def _labels() -> dict[str, dict[str, Any]]:
    labels: dict[str, dict[str, Any]] = json.loads(LABELS_FILE.read_text(encoding="utf-8"))
    return labels


@cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _weasyprint() -> Any:
    """Import WeasyPrint on first use: it needs the system's Pango, which only this step uses."""
    try:
        import weasyprint
    except OSError as exc:
        raise DocumentError(
            f"WeasyPrint cannot load its system libraries ({exc}); install the Debian packages "
            "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core (deploy/install.sh does)"
        ) from exc
    return weasyprint


@cache
def _offline_fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses every URL and makes the refusal stop rendering.

    WeasyPrint turns an ordinary fetch error into a warning and renders without the resource;
    ``fail_on_errors`` makes it stop instead, so a broken template cannot pass unnoticed.
    """
    from weasyprint.urls import URLFetcher

    class OfflineURLFetcher(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> NoReturn:
            refuse_url(url, headers)

    return OfflineURLFetcher(fail_on_errors=True)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``.

    The file is created like any other (mode 0o666 less the umask), not 0o600 as mkstemp would.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _sync_directory(directory: Path) -> None:
    """Persist the renames themselves (best effort: not every platform can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
