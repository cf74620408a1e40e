"""The translation catalogue: every text a page shows is in it, in French and Arabic, with
the same placeholders; templates hold no text of their own; dates and numbers follow the
page's language."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.web import i18n
from orchestrator.web.render import TEMPLATES_DIR

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
TAG = re.compile(r"<[^>]*>", re.DOTALL)
ENTITY = re.compile(r"&\w+;|&#\d+;")


@pytest.mark.parametrize("language", ["fr", "ar"])
def test_every_message_has_a_translation_with_the_same_placeholders(language: str) -> None:
    used = i18n.message_ids()
    catalogue = i18n.catalogue(language)
    assert len(used) > 150
    assert sorted(used - set(catalogue)) == []  # untranslated
    assert sorted(set(catalogue) - used) == []  # no longer used: remove from the .po
    for message in used:
        wanted = sorted(PLACEHOLDER.findall(message))
        assert sorted(PLACEHOLDER.findall(catalogue[message])) == wanted, message


def test_arabic_translations_are_in_arabic_script() -> None:
    arabic = re.compile(r"[\u0600-\u06ff]")
    technical = {"SHA-256"}
    untranslated = [
        m
        for m, text in i18n.catalogue("ar").items()
        if m not in technical and not arabic.search(text)
    ]
    assert untranslated == []


@pytest.mark.parametrize("template", sorted(TEMPLATES_DIR.glob("*.html")), ids=lambda p: p.name)
def test_templates_show_no_text_outside_the_catalogue(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    bare = ENTITY.sub(" ", TAG.sub(" ", JINJA.sub(" ", source)))
    assert re.findall(r"[^\W\d_]{2,}", bare) == []


def test_the_language_a_browser_asks_for() -> None:
    assert i18n.from_accept_language("ar-MA,ar;q=0.9,fr;q=0.8") == "ar"
    assert i18n.from_accept_language("de-DE, en;q=0.5, fr;q=0.7") == "fr"
    assert i18n.from_accept_language("de, es") is None
    assert i18n.from_accept_language(None) is None
    assert i18n.direction("ar") == "rtl" and i18n.direction("fr") == "ltr"


def test_dates_numbers_and_durations_follow_the_language() -> None:
    moment = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    fr = i18n.formatters("fr", "Africa/Casablanca")
    ar = i18n.formatters("ar", "Africa/Casablanca")
    en = i18n.formatters("en", "UTC")
    assert fr["when"](moment) == "24 nov. 2026, 10:30:00"  # Casablanca is UTC+1
    assert ar["when"](moment, "short") == "24\u200f/11\u200f/2026، 10:30 ص"  # Arabic comma, AM
    assert en["when"]("2026-11-24T09:30:00.000000Z") == en["when"](moment)
    assert en["number"](1234567) == "1,234,567"
    assert fr["number"](1234567) == "1\u202f234\u202f567" and fr["number"](12.5, 1) == "12,5"
    assert en["duration"](90) == "2 min" and ar["duration"](5) == "5 ث"


def test_translation_fills_placeholders_in_the_page_language() -> None:
    token = i18n.current_language.set("fr")
    try:
        assert i18n.gettext("version %(number)s", number=3) == "version 3"
        assert i18n.gettext("Cases") == "Dossiers"
    finally:
        i18n.current_language.reset(token)
    assert i18n.translate("Cases", "ar") == "الملفات"
    assert i18n.translate("Cases", "en") == "Cases"
