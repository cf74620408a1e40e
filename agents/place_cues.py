"""Where the person was born: the place a birth word points to ("né à Fès", "tzad f casa",
``ازداد بمدينة وجدة``), not a hospital's name, a month, the place of a wedding or a death, or
where the writer lives now."""

from __future__ import annotations

import re

from agents.cue_words import (
    AR_STOP,
    AR_WORD,
    CAP,
    LATIN_STOP,
    LOWER,
    NOT_A_NAME,
    PARTICLE,
    overlapping,
    trim_arabic,
    written_in_lower_case,
)
from agents.dates import MONTHS, OTHER_EVENT, UNITS_AR
from agents.language import word_set
from agents.places import known_place

_PLACE_CUES = [
    r"(?<![\w])(?P<w>(?i:n[ée]e?|born\w*|tzad\w*|tezad\w*|zdat|zdt|mzyou?da?|mzyoud\w*|naissance|"
    r"naquit|pob|place\s+of\s+birth|birthplace|lieu(?:\s+de\s+naissance)?\s*:|lieu\s+de\s+naissance|"
    r"blasa\s*:))"
    r"(?![\w])[^.;?!\n]{0,60}",
    r"(?<![\w])و?(?:ازددت|ازددنا|ازداد\w*|المزداد\w*|ولد|ولدت|ولدات|المولود\w*|مولود\w*|تزاد\w*|"
    r"مزداد\w*|مزيود\w*|مواليد|رزقنا|رزقت|(?:مكان|بلاصة)\s+(?:ال)?(?:ولادة|ازدياد)\w*)(?![\w])"
    r"[^.؛،\n]{0,50}",
]
_LATIN_PLACE_CUE = re.compile(_PLACE_CUES[0])
_LATIN_PLACE_HEADS = (
    r"(?:ouled|oulad|ait|sidi|ain|beni|bni|douar|dwar|dar|had|souk|ksar|sebt|tnine)"
)
"""A village's first word, which needs the next one (``f ouled frej``)."""
_LATIN_MONTH = "|".join(
    sorted((re.escape(m) for m in MONTHS if m.isascii() and len(m) > 3), key=len, reverse=True)
)
_LATIN_PLACE = re.compile(
    r"(?<![\w])(?i:à|a|au|in|at|f|fi|d|(?:pob|place\s+of\s+birth|birthplace|blasa|lieu(?:\s+de\s+"
    r"naissance)?)\s*:|(?:maternit[ée]|h[ôo]pital|clinique|hospital|sbitar)(?:\s+(?-i:[A-Z][\w'’-]*))*"
    rf"\s+(?:de|d'|of|in|à|dyal|d))(?:\s+|(?<=['’:])\s*)(?!(?i:{_LATIN_MONTH})(?![\w]))"
    rf"(?P<v>{NOT_A_NAME}(?:(?i:douar|dwar)[^\S\n]+)?{CAP}(?:[^\S\n]+(?:{PARTICLE}[^\S\n]+)?{CAP}){{0,2}})"
)
_INSTITUTION = re.compile(
    r"[^\S\n]+(?i:hospital|hôpital|hopital|clinic|clinique|maternity|maternité|school|university)"
)
"""A capitalised name followed by "hospital" is the hospital's (``Cheikh Zaid hospital in
Rabat``): the place comes after it."""
_LOWER_PLACE = re.compile(
    r"(?:(?<![\w])(?i:à|a|au|in|at|f|fi|d|dyal|de|of|pob\s*:|lieu\s*:|place\s*:|sbitar\s+dyal)|,)\s+"
    r"(?P<v>(?i:[a-zà-ÿ'’-]+(?:\s+[a-zà-ÿ'’-]+){0,2}))"
)
"""A place typed in lower case (``a casa``, ``f beni mellal``): kept only if it is a known
place (:mod:`agents.places`)."""
_AR_PLACE = re.compile(
    rf"(?:(?<!\S)(?:بمدينة\s+|فمدينة\s+|فالمدينة\s+|في\s+مدينة\s+|بمدينه\s+|مدينة\s+|في\s+|ف\s+|ب(?=\S)|ف(?=\S))|"
    rf"(?:(?<=مكان الازدياد)|(?<=مكان ازدياد)|(?<=مكان الولادة)|(?<=بلاصة الازدياد))\s*:?\s*|"
    rf"(?:(?<=تزاديت)|(?<=تزاد)|(?<=ازددت)|(?<=ازداد))\s*:\s*|(?<=مواليد)\s+)(?P<v>{AR_WORD}(?:\s+{AR_WORD}){{0,2}})"
)
_AR_NOT_PLACE = word_set(
    "غيت غينا تاريخ بتاريخ شهر يوم نهار سنة عام مستشفى المستشفى مدينة المدينة الدار دار حي "
    "ابني ابنتي ابنتنا ابننا بنتي ولدي المدرسة الإدارة الادارة الجماعة البلدية المقاطعة "
    "السوق الخدمة الشهر فالشهر سبيطار صبيطار السبيطار مصحة المصحة كلينيك الكلينيك العشرة "
    "الكارط الكارطة البطاقة الكناش الدفتر الورقة الوثائق الوثيقة "
    + " ".join(UNITS_AR)
    + " "
    + " ".join(MONTHS)
)
_AR_PLACE_HEADS = word_set("دوار الدوار قرية جماعة")
"""A village's head word, part of its name in the records (``دوار أولاد بوزيري``)."""


def _arabic_place(text: str, match: re.Match[str]) -> tuple[tuple[int, int], bool] | None:
    """The place after a preposition, and whether it is certain (a known place, a village's
    head word or ``بمدينة``): a known place keeps its own words, another at most two."""
    words = list(re.finditer(r"\S+", match.group("v")))
    tokens = [word.group(0) for word in words]
    first = tokens[0]
    casablanca = tokens[:2] == ["الدار", "البيضاء"]
    if (first in _AR_NOT_PLACE and not casablanca) or first in AR_STOP or len(first) < 3:
        return None
    start = match.start("v")
    size = known_place(tokens)
    if size:
        return (start, start + words[size - 1].end()), True
    glued = match.group(0)[0] in "بف" and not match.group(0)[1].isspace()
    if glued and not (first.startswith("ال") or first in _AR_PLACE_HEADS):
        return None  # ``بوشيخي`` is a name, ``بالحاجب`` a place
    keep = 3 if first in _AR_PLACE_HEADS else 2
    trimmed = trim_arabic(text, start, start + words[min(keep, len(words)) - 1].end())
    if trimmed is None:
        return None
    certain = first in _AR_PLACE_HEADS or "مدينة" in match.group(0)
    return trimmed, certain


_DOCUMENT = re.compile(
    r"(?i:acte|extrait|extr[ée]|extrai|copie|certificat|fiche)\s+(?:d['’]\s*|de\s+)?(?:acte\s+de\s+)?$"
)
"""``acte de naissance`` names the document, not the birth: no place follows it."""
_PLACE_DECOY = re.compile(
    OTHER_EVENT.pattern + r"|habite|j'habite|domicili|r[ée]side|live|living|moved|d[ée]m[ée]nag|"
    r"(?<![\w])(?:daba|dba|now|currently|actuellement|maintenant|دابا|حاليا)(?![\w])|"
    r"sakn|sakin|ساكن|أقطن|اقطن|أسكن|اسكن|مقيم|كنسكن",
    re.IGNORECASE,
)
"""Between a birth word and a place, a word of another event or of where one lives now: the
place is that one's (``le mariage c le 20 aout a agadir``)."""


def place_of_birth(text: str) -> tuple[int, int] | None:
    """The first place after a birth word: in Latin script a capitalised place or a known one
    typed in lower case; in Arabic script a known or certain place before any other."""
    lower = written_in_lower_case(text)
    for cue in overlapping(_LATIN_PLACE_CUE, text, 0, len(text)):
        if _DOCUMENT.search(text, max(0, cue.start() - 24), cue.start()):
            continue
        window = cue.end() + 30
        candidates = []
        for place in overlapping(_LATIN_PLACE, text, cue.start(), len(text)):
            if place.start() > window:
                break
            if not _INSTITUTION.match(text, place.end("v")):
                candidates.append(place.span("v"))
                break
        stop = re.compile(r"[.;?!\n]").search(text, cue.end())
        sentence_end = stop.start() if stop else len(text)
        for low in overlapping(_LOWER_PLACE, text, cue.start(), sentence_end):
            if low.start() > window:
                break
            words = list(re.finditer(r"[^\s,.;:!?()]+", low.group("v")))
            size = known_place([word.group(0) for word in words])
            if size:
                start = low.start("v")
                candidates.append((start, start + words[size - 1].end()))
                break
        if not candidates and lower:
            low_place = re.compile(
                rf"(?<![\w])(?:à|a|in|at|f|fi)\s+(?P<v>(?:{_LATIN_PLACE_HEADS}\s+)?{LOWER})(?![\w])"
            )
            match = low_place.search(text, cue.start(), window)
            if match is not None and match.group("v").lower() not in LATIN_STOP:
                candidates.append(match.span("v"))
        candidates = [c for c in candidates if not _PLACE_DECOY.search(text, cue.end("w"), c[0])]
        if candidates:
            return min(candidates)
    for cue in re.finditer(_PLACE_CUES[1], text):
        weak: tuple[int, int] | None = None
        stop = re.compile(r"[.؛;\n]").search(text, cue.end())
        sentence_end = stop.start() if stop else len(text)
        for match in overlapping(_AR_PLACE, text, cue.start(), sentence_end):
            if match.start() > cue.end() + 30:
                break
            read = _arabic_place(text, match)
            if read is None:
                continue
            span, certain = read
            if certain:
                return span
            weak = weak or span
        if weak is not None:
            return weak
    return None
