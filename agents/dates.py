"""Dates in a citizen's text, read by rules rather than by the model.

A small model turned "3 mai 2016" into ``3102-04-07``; a parser does not. It finds every full
date (day, month and year) in French, English, Arabic and Darija, with its character offsets:

- numeric: ``2016-05-03``, ``03/05/2016``, ``3-5-2016``, ``3.5.2016`` (day first, as in Morocco);
- with a month name: ``3 mai 2016``, ``1er mai 2016``, ``May 3rd, 2016``, ``3rd of May 2016``,
  ``3 ماي 2016``, Moroccan month names (يناير … يوليوز غشت شتنبر نونبر دجنبر), the Middle
  East's (كانون الثاني … تموز آب أيلول) and the Egyptian ones (يوليو أغسطس سبتمبر);
- French and English numbers in words: ``le trois mai deux mille seize``;
- Darija: ``12 f chhar 3 2015``, ``12 فشهر 3 2015``;
- Arabic-Indic and Persian digits (``١٥/٠٣/٢٠١٠``).

:func:`birth_date` picks the one a birth word (né, born, ازداد, tzad…) points to, or none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from agents.folding import DIGITS

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "janvier january jan janv يناير جانفي كانون_الثاني ينير janvie yanayr yennayer yanair "
        "yanayer",
        "fevrier février february feb fev févr فبراير فيفري شباط فبراير fbrayr fbrayer",
        "mars march mar مارس آذار اذار",
        "avril april apr av أبريل ابريل أفريل افريل نيسان abril",
        "mai may ماي مايو أيار ايار",
        "juin june jun يونيو يونيه جوان حزيران yonyo younyou",
        "juillet july jul juil يوليوز يوليو يوليه جويلية تموز yolyoz youlyouz",
        "aout août august aug غشت أغسطس اغسطس أوت اوت آب اب ghocht ghouchet ghusht ghosht",
        "septembre september sep sept شتنبر سبتمبر أيلول ايلول chtanbr chtanber",
        "octobre october oct أكتوبر اكتوبر تشرين_الأول تشرين_الاول oktobr",
        "novembre november nov نونبر نوفمبر تشرين_الثاني nonbr nouvanbr",
        "decembre décembre december dec déc دجنبر ديسمبر كانون_الأول كانون_الاول djanbr dujanbr",
    ],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name.replace("_", " ")] = _number

_UNITS_FR = {
    "un": 1, "une": 1, "premier": 1, "1er": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "six": 6, "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12,
    "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20, "trente": 30,
    "quarante": 40, "cinquante": 50, "soixante": 60, "cent": 100, "cents": 100,
    "mille": 1000, "mil": 1000, "et": 0,
}  # fmt: skip
_UNITS_EN = {
    "one": 1, "first": 1, "two": 2, "second": 2, "three": 3, "third": 3, "four": 4,
    "fourth": 4, "five": 5, "fifth": 5, "six": 6, "sixth": 6, "seven": 7, "seventh": 7,
    "eight": 8, "eighth": 8, "nine": 9, "ninth": 9, "ten": 10, "tenth": 10, "eleven": 11,
    "eleventh": 11, "twelve": 12, "twelfth": 12, "thirteen": 13, "thirteenth": 13,
    "fourteen": 14, "fourteenth": 14, "fifteen": 15, "fifteenth": 15, "sixteen": 16,
    "sixteenth": 16, "seventeen": 17, "seventeenth": 17, "eighteen": 18, "eighteenth": 18,
    "nineteen": 19, "nineteenth": 19, "twenty": 20, "twentieth": 20, "thirty": 30,
    "thirtieth": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "thousand": 1000, "and": 0,
}  # fmt: skip
UNITS_AR = {
    "الأول": 1, "الاول": 1, "واحد": 1, "الواحد": 1, "الحادي": 1, "فاتح": 1, "الفاتح": 1,
    "الثاني": 2, "اثنين": 2, "إثنين": 2, "اثنان": 2, "الثالث": 3, "ثلاثة": 3, "ثلاث": 3,
    "الرابع": 4, "أربعة": 4, "اربعة": 4, "أربع": 4, "اربع": 4, "الخامس": 5, "خمسة": 5,
    "خمس": 5, "السادس": 6, "ستة": 6, "ست": 6, "السابع": 7, "سبعة": 7, "سبع": 7,
    "الثامن": 8, "ثمانية": 8, "ثماني": 8, "ثمان": 8, "التاسع": 9, "تسعة": 9, "تسع": 9,
    "العاشر": 10, "عشرة": 10, "عشر": 10, "العشرين": 20, "عشرين": 20, "عشرون": 20,
    "الثلاثين": 30, "ثلاثين": 30, "ثلاثون": 30, "أربعين": 40, "اربعين": 40, "خمسين": 50,
    "ستين": 60, "سبعين": 70, "ثمانين": 80, "تسعين": 90, "مائة": 100, "مئة": 100,
    "مائتين": 200, "مئتين": 200, "ثلاثمائة": 300, "أربعمائة": 400, "خمسمائة": 500,
    "ستمائة": 600, "سبعمائة": 700, "ثمانمائة": 800, "تسعمائة": 900, "تسعمئة": 900,
    "ألف": 1000, "الف": 1000, "ألفين": 2000, "الفين": 2000, "ألفان": 2000,
}  # fmt: skip
"""Arabic number words, ordinal days (``الخامس``) and cardinals (``ألف وتسعمائة وخمسة وتسعين``):
each adds up, ``مائة`` and ``ألف`` multiply what precedes them; ``و`` joins them."""
_UNITS_DARIJA = {
    "fatah": 1, "fat7": 1, "lfatah": 1, "wahed": 1, "wa7ed": 1, "wa7d": 1, "jouj": 2,
    "jooj": 2, "zouj": 2, "tlata": 3, "tleta": 3,
    "reb3a": 4, "rb3a": 4, "arb3a": 4, "khamsa": 5, "setta": 6, "sta": 6, "seb3a": 7,
    "sab3a": 7, "sb3a": 7, "tmenya": 8, "tmanya": 8, "tes3oud": 9, "ts3od": 9, "tes3a": 9,
    "3achra": 10, "3chra": 10, "hdach": 11, "7dach": 11, "tnach": 12, "tnash": 12,
    "tlettach": 13, "rb3tach": 14, "khmstach": 15, "settach": 16, "sb3tach": 17,
    "tmentach": 18, "ts3tach": 19, "3echrin": 20, "3chrin": 20, "tlatin": 30,
    "واحد": 1, "جوج": 2, "زوج": 2, "تلاتة": 3, "تلاثة": 3, "ربعة": 4, "خمسة": 5, "ستة": 6,
    "سبعة": 7, "تمنية": 8, "تسعود": 9, "عشرة": 10, "حداش": 11, "طناش": 12, "تلطاش": 13,
    "ربعطاش": 14, "خمسطاش": 15, "سطاش": 16, "سبعطاش": 17, "تمنطاش": 18, "تسعطاش": 19,
    "عشرين": 20, "تلاتين": 30,
}  # fmt: skip
"""Darija days and months in words, in both scripts (``tzad nhar tlata f chhar sab3a``)."""
_NUMBER_WORDS = {**_UNITS_FR, **_UNITS_EN, **UNITS_AR, **_UNITS_DARIJA}
_DARIJA_NUMBER = "|".join(sorted((re.escape(w) for w in _UNITS_DARIJA), key=len, reverse=True))
_DARIJA_WORDS = rf"(?:(?:{_DARIJA_NUMBER})(?:\s+(?:w|o|u|و)\s*(?:{_DARIJA_NUMBER}))?)"
_NUMBER_WORD = "|".join(sorted((re.escape(w) for w in _NUMBER_WORDS), key=len, reverse=True))
_WORDS_NUMBER = rf"(?:(?:{_NUMBER_WORD})(?:[\s-]+و?(?:{_NUMBER_WORD}))*)"
_AR_NUMBER_WORD = "|".join(sorted((re.escape(w) for w in UNITS_AR), key=len, reverse=True))
_AR_WORDS_NUMBER = rf"(?:(?:{_AR_NUMBER_WORD})(?:\s+و?(?:{_AR_NUMBER_WORD}))*)"
_MONTH = "|".join(
    sorted((re.escape(m).replace(r"\ ", r"\s+") for m in MONTHS), key=len, reverse=True)
)
_DAY = r"(?P<day>[0-3]?\d)(?:\s*(?:er|st|nd|rd|th|ème))?"
_YEAR_DIGITS = r"(?:1[89]|20)\d\d"
_YEAR = rf"(?P<year>{_YEAR_DIGITS})"
_SEP = r"[\s,.]*"
_AR_PREFIX = r"(?:ب|ف|في|فـ|فال|ل)?"
_DARIJA_OF = r"(?:(?:f|d|de|fi|ف|د|في)\s*)?"
"""The word between a Darija day and ``chhar``: ``12 f chhar 3``, ``15 d chhar 6``,
``العشرة د شهر``."""

_PATTERNS = [
    re.compile(
        rf"(?<!\d){_YEAR}\s*(?P<sep>[-/.])\s*(?P<month>[01]?\d)\s*(?P=sep)\s*(?P<dayiso>[0-3]?\d)(?!\d)"
    ),
    re.compile(rf"(?<!\d)(?P<day>[0-3]?\d)\s*[/.\-]\s*(?P<month>[01]?\d)\s*[/.\-]\s*{_YEAR}(?!\d)"),
    re.compile(
        rf"(?<![\w]){_DAY}(?:\s+(?:de|of|من))?{_SEP}{_AR_PREFIX}(?:شهر\s*)?(?P<monthname>{_MONTH})"
        rf"(?![\w]){_SEP}(?:سنة|عام|de\s+l'an)?\s*{_YEAR}(?!\d)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<![\w])(?P<monthname>{_MONTH})\.?\s+{_DAY}(?:\s*,)?\s*{_YEAR}(?!\d)", re.IGNORECASE
    ),
    re.compile(
        rf"(?<!\d)(?P<day>[0-3]?\d)\s+{_DARIJA_OF}(?:ال|l)?(?:chhar|chher|chahr|شهر)\s*(?P<month>[01]?\d)"
        rf"\s+(?:(?:3am|عام|سنة)\s*)?{_YEAR}(?!\d)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<![\w])(?P<dayword>{_AR_WORDS_NUMBER})(?![\w])(?:\s+من)?\s+"
        rf"(?:{_AR_PREFIX}شهر\s+)?(?P<monthname>{_MONTH})(?![\w])[\s,،]+(?:(?:سنة|عام)\s+)?"
        rf"(?P<yearword>{_AR_WORDS_NUMBER}|{_YEAR_DIGITS})(?![\w])",
    ),
    re.compile(
        rf"(?<![\w])(?:ال|l)?(?P<dayword>{_DARIJA_WORDS}|[0-3]?\d)\s+{_DARIJA_OF}(?:ال|l)?"
        rf"(?:chhar|chher|chahr|شهر)\s*(?P<monthword>{_DARIJA_WORDS}|[01]?\d)"
        rf"\s+(?:(?:3am|عام|سنة)\s*)?{_YEAR}(?!\d)",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<![\w])(?:le\s+|the\s+)?(?P<dayword>{_WORDS_NUMBER})(?:\s+of)?\s+"
        rf"(?P<monthname>{_MONTH})(?![\w]),?\s+(?:(?:de\s+)?l'an\s+)?(?P<yearword>{_WORDS_NUMBER}|{_YEAR_DIGITS})",
        re.IGNORECASE,
    ),
]


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    iso: str


def words_to_number(text: str) -> int | None:
    """``deux mille seize`` → 2016, ``quatre-vingt-dix-huit`` → 98, ``twenty-one`` → 21."""
    total, current = 0, 0
    parts = [part for part in re.split(r"[\s-]+", text.lower()) if part]
    if not parts:
        return None
    for index, part in enumerate(parts):
        if part.isdigit():
            current += int(part)
            continue
        if part not in _NUMBER_WORDS and part.startswith("و") and part[1:] in UNITS_AR:
            part = part[1:]
        if part not in _NUMBER_WORDS:
            return None
        value = _NUMBER_WORDS[part]
        if value == 2000:
            total += 2000
        elif value == 1000:
            total += (current or 1) * 1000
            current = 0
        elif value == 100:
            current = (current or 1) * 100
        elif value == 20 and part == "vingt" and index > 0 and parts[index - 1] == "quatre":
            current = current - 4 + 80
        else:
            current += value
    return total + current


def find_dates(text: str) -> list[DateMention]:
    """Every valid full date in ``text``, in order, with offsets into ``text`` itself."""
    folded = text.translate(DIGITS)  # same length: offsets still point into ``text``
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(folded):
            start, end = match.span()
            if any(start < b and a < end for a, b in taken):
                continue
            iso = _iso(match)
            if iso is None:
                continue
            trimmed = start + (len(match.group(0)) - len(match.group(0).lstrip()))
            found.append(DateMention(trimmed, end, iso))
            taken.append((start, end))
    return sorted(found, key=lambda mention: mention.start)


def _iso(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    if groups.get("dayword"):
        day = words_to_number(groups["dayword"].removeprefix("le ").removeprefix("the "))
    else:
        day = int(groups.get("dayiso") or groups.get("day") or 0)
    if groups.get("monthword"):
        month = words_to_number(groups["monthword"])
    elif groups.get("monthname"):
        month = MONTHS.get(re.sub(r"\s+", " ", groups["monthname"].lower()))
    else:
        month = int(groups["month"])
    year_text = groups.get("year") or groups.get("yearword") or ""
    year = int(year_text) if year_text.isdigit() else words_to_number(year_text)
    if not day or not month or not year or not 1900 <= year <= 2100:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


_BIRTH_CUE = re.compile(
    r"n[ée]e?s?\b|naissance|naiss|born|birth|dob|ازددت|ازددنا|ازداد|ازدياد|إزدياد|الازدياد|ازديادي|ولد|ولادة|"
    r"الولادة|مزداد|مزدادة|تزاد|تزادت|تزاديت|زاد|tzad|tezad|tzadit|tzadt|zad|mzyoud|mzyouda|"
    r"mzyod|mzyoud|zdat|zdt|zdit|zadat|مواليد|الزيادة|زيادة|wilada|lwilada|wlad|twled|twlad|twlat|ولدات|تولد|تولدات|مولود|مزيود|مزيودة|رزقنا|رزقت|رزقني|date\s+of\s+birth",
    re.IGNORECASE,
)
_CUE_WINDOW = 60
OTHER_EVENT = re.compile(
    r"mari[ée]e?s|mariage|married|wedding|d[ée]c[ée]d|d[ée]c[èe]s|died|passed\s+away|"
    r"rendez-vous|rdv|appointment|aujourd'hui|today|fait\s+[àa]|tzewwej|tzawj|tzwj|zwaj|"
    r"تزوج|زواج|الزواج|توفي|وفاة|الوفاة|متوفا|متوفى|متوفي|موعد|اليوم|حرر|twffa|twefa|"
    r"(?<![\w])(?:mat|matet|rdv|3ors|3rs|عرس|العرس)(?![\w])|audience|hearing|جلسة|الجلسة|d[ée]lai|"
    r"deadline|avant\s+le|before|expir|visa\s+appointment|قبل",
    re.IGNORECASE,
)
"""Words of another event (a wedding, a death, an appointment, the letter's own date): a date
they stand between a birth word and is that event's, not the birth's."""


def birth_date(text: str) -> DateMention | None:
    """The date a birth word points to: the nearest date within a short distance after a cue
    (``né le 3 mai 2016``), or before one (``3 mai 2016, date de naissance``); else none."""
    mentions = find_dates(text)
    best: tuple[int, DateMention] | None = None
    cues = [match.span() for match in _BIRTH_CUE.finditer(text)]
    for mention in mentions:
        if OTHER_EVENT.search(text, max(0, mention.start - 25), mention.start):
            continue
        for cue_start, cue_end in cues:
            if 0 <= mention.start - cue_end <= _CUE_WINDOW:
                if OTHER_EVENT.search(text, cue_end, mention.start):
                    continue
                distance = mention.start - cue_end
            elif 0 <= cue_start - mention.end <= 15 and not any(
                mark in text[mention.end : cue_start] for mark in ".;!?\n"
            ):
                distance = (cue_start - mention.end) + 20
            else:
                continue
            if best is None or distance < best[0]:
                best = (distance, mention)
    return best[1] if best else None
