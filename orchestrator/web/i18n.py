"""The translation catalogue and the localised formats of the web interface.

Every text a page shows is an English message id passed to ``_()`` (templates) or marked with
:func:`N_` (Python); ``locales/<language>.po`` holds its French and Arabic translations, read
with Babel at start-up. English is the message ids themselves. Dates, numbers and durations
are formatted by Babel from the CLDR data of the page's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = ("fr", "ar", "en")
DEFAULT_LANGUAGE = "fr"
RIGHT_TO_LEFT = frozenset({"ar"})
LANGUAGE_NAMES = {"fr": "Français", "ar": "العربية", "en": "English"}
"""Each language named in itself, as a language switcher shows them (not translated)."""
LOCALES_DIR = Path(__file__).parent / "locales"

current_language: ContextVar[str] = ContextVar("current_language", default=DEFAULT_LANGUAGE)
"""The language of the page being rendered; ``_()`` in templates reads it."""


def N_(message: str) -> str:
    """Marks a message id in Python code; the page translates it with ``_()``."""
    return message


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    """Message id to translation for ``language`` (empty for English and unknown ones)."""
    path = LOCALES_DIR / f"{language}.po"
    if language == "en" or not path.is_file():
        return {}
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in parsed if m.id and m.string and not m.fuzzy}


def translate(message: str, language: str | None = None) -> str:
    """``message`` in ``language`` (the page's when not given); the id itself when the
    catalogue has no translation, which the catalogue test refuses for fr and ar.

    Templates call it as ``t(value)`` for a message id held in a variable: unlike ``_()``,
    whose result Jinja treats as safe markup, its result is escaped like any value, so a
    message that quotes what someone typed cannot inject markup."""
    return catalogue(language or current_language.get()).get(message, message)


def gettext(message: str, **values: Any) -> str:
    """Templates' ``_()``: translated, then ``%(name)s`` placeholders filled."""
    text = translate(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, count: int, **values: Any) -> str:
    text = translate(singular if count == 1 else plural)
    return text % {"num": count, **values}


def chosen(language: str | None) -> str | None:
    """``language`` when it is one of the interface's, else None."""
    return language if language in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first of the interface's languages the browser asks for (``Accept-Language``)."""
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        ranked.append((-weight, position, tag.strip().lower()[:2]))
    for _, _, tag in sorted(ranked):
        if tag in LANGUAGES:
            return tag
    return None


def direction(language: str) -> str:
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


def formatters(language: str, zone: str) -> dict[str, Callable[..., str]]:
    """The filters pages format values with, for one language and time zone."""
    tz = ZoneInfo(zone)

    def when(value: datetime | str | None, style: str = "medium") -> str:
        if isinstance(value, str):  # the audit log's UTC timestamps
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return "" if value is None else format_datetime(value, style, tzinfo=tz, locale=language)

    def number(value: float | int | None, digits: int = 0) -> str:
        if value is None:
            return ""
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=language)

    def duration(seconds: float | None, relative: bool = False) -> str:
        if seconds is None:
            return ""
        delta = timedelta(seconds=seconds)
        return format_timedelta(
            delta, threshold=1.2, add_direction=relative, format="short", locale=language
        )

    return {"when": when, "number": number, "duration": duration}


MESSAGE_CALL = re.compile(r"""\b(?:N_|_)\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
"""The ``_()`` calls of templates and ``N_()`` marks of Python: the messages the catalogue holds."""


def message_ids(root: Path = Path(__file__).parent) -> set[str]:
    """Every message id the interface uses, read from its templates and modules."""
    found = set()
    for path in [*root.glob("templates/*.html"), *root.glob("*.py")]:
        for match in MESSAGE_CALL.finditer(path.read_text(encoding="utf-8")):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            found.add(text.replace('\\"', '"').replace("\\'", "'"))
    return found
