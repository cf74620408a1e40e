"""The three languages idara's demo procedures speak, and a light detector for missing labels."""

from __future__ import annotations

import re

SUPPORTED_LANGUAGES = ("fr", "ar", "en")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_FRENCH_WORDS = frozenset(
    [
        "le",
        "la",
        "les",
        "des",
        "une",
        "du",
        "et",
        "je",
        "vous",
        "nous",
        "pour",
        "avec",
        "dans",
        "est",
        "sur",
        "mon",
        "ma",
        "mes",
        "votre",
        "demande",
        "monsieur",
        "madame",
        "bonjour",
        "merci",
        "suis",
        "au",
        "aux",
    ]
)
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "and",
        "i",
        "you",
        "we",
        "for",
        "with",
        "in",
        "is",
        "on",
        "my",
        "your",
        "request",
        "dear",
        "hello",
        "thank",
        "am",
        "to",
        "of",
        "please",
        "would",
        "like",
    ]
)


def arabic_share(text: str) -> float:
    """Share of letters in ``text`` that are Arabic script."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    return sum(1 for ch in letters if _ARABIC.match(ch)) / len(letters)


def detect_language(text: str) -> str:
    """Best guess among fr/ar/en: script first, then common function words."""
    if arabic_share(text) > 0.3:
        return "ar"
    words = re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+", text.lower())
    french = sum(1 for word in words if word in _FRENCH_WORDS)
    english = sum(1 for word in words if word in _ENGLISH_WORDS)
    return "fr" if french > english else "en"
