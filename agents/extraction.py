"""Extraction that never invents: each value is tied to the span of the request it came from.

Values are read first where the request's own words introduce them (:func:`cue_spans`:
``sa mère : Nadia El Fassi``, ``والده محمد الإدريسي``, ``tzad f Agadir``); a fact no cue
introduces may come from the model's answer, kept only where the agent can point at it in the
request (:func:`agents.evidence.span_of`). Dates are read by the rule-based parser
(:mod:`agents.dates`), never from the model. What it cannot point at is dropped and flagged.
The control plane checks the spans again (:func:`agents.evidence.verify`) before storing.
"""

from __future__ import annotations

import re
from typing import Any

from agents.dates import MONTHS, UNITS_AR, birth_date, find_dates
from agents.evidence import EVIDENCE, quoted, span_of
from agents.language import word_set


def with_evidence(
    proposed: dict[str, Any], text: str, kinds: dict[str, str], model_fallback: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """``proposed`` (the model's answer) with only the values found in ``text``, and notes.

    ``model_fallback`` (the step's ``params: {model_fallback: "true"}``): a text value no cue
    found may be the model's, where the agent finds it in the request. Off by default: on the
    tune split with the embedded 135M model it added 2 correct values and 7 invented ones (the
    request's opening line as a name, the signer as the mother; docs/evaluation.md). Turn it
    on for a larger model once ``idara eval --model`` shows it helps."""
    output = dict(proposed)
    evidence: dict[str, Any] = {}
    notes: list[str] = []
    cues = cue_spans(text)
    for field, kind in kinds.items():
        value = output.get(field)
        if kind == "date":
            mention = birth_date(text) if field == "date_of_birth" else _only_date(text)
            if mention is not None:
                output[field] = mention.iso
                evidence[field] = quoted(mention.start, mention.end, text)
                if value and value != mention.iso:
                    notes.append(
                        f"{field}: {mention.iso} read from the request, not the model's {value}"
                    )
                continue
            output[field] = None
            if value:
                evidence[field] = {"dropped": value, "reason": "no such date in the request"}
                notes.append(f"{field}: the model's {value!r} dropped: no such date in the request")
            continue
        if field in cues:
            start, end = cues[field]
            output[field] = text[start:end]
            evidence[field] = {**quoted(start, end, text), "by": "cue"}
            continue
        span = span_of(value, text) if model_fallback and _plausible(value) else None
        if span is not None:
            output[field] = text[span["start"] : span["end"]]
            evidence[field] = {**span, "by": "model"}
        elif isinstance(value, str) and value.strip():
            output[field] = None
            if not model_fallback:
                reason = (
                    "no words of the request introduce it; the model's answer alone is not kept"
                )
            elif span_of(value, text) is None:
                reason = "not written in the request"
            else:
                reason = "not a name or a place"
            evidence[field] = {"dropped": value, "reason": reason}
            notes.append(f"{field}: the model's {value!r} dropped: {reason}")
        else:
            output[field] = None
    output[EVIDENCE] = evidence
    return output, notes


def _plausible(value: Any) -> bool:
    """A name or a place: one to five words, no digit, no line break, no comma."""
    return (
        isinstance(value, str)
        and 0 < len(value.split()) <= 5
        and not any(ch.isdigit() or ch in "\n,;:" for ch in value)
    )


def _only_date(text: str) -> Any:
    mentions = find_dates(text)
    return mentions[0] if len(mentions) == 1 else None


# --- cues: the words that introduce each fact, in the five ways citizens write ---------------
_PARTICLE = r"(?:El|el|Ben|ben|Ait|Aït|ait|Al|al|Ou|Bel|Bou|Ibn|Abou|Sidi|Moulay|Lalla|d'|de)"
_CAP = r"[A-ZÀ-ÝÉ][a-zà-ÿ'’-]+"
_LATIN_NAME = rf"(?P<v>{_CAP}(?:[^\S\n]+(?:{_PARTICLE}[^\S\n]+)?{_CAP}){{0,3}})"
_LOWER = r"[a-zà-ÿ'’-]{2,}"
_LATIN_LOWER_NAME = rf"(?P<v>{_LOWER}(?:[^\S\n]+{_LOWER}){{0,3}})"
"""A name as SMS writers type it, all lower case (``yasmine el idrissi``): read only in a text
written in lower case, cut at the first word that is not part of a name (:data:`_LATIN_STOP`)."""
_AR_WORD = r"[\u0621-\u064a\u0671-\u06d3\u06a9\u06af]+"
_AR_NAME = rf"(?P<v>{_AR_WORD}(?:[^\S\n]+{_AR_WORD}){{0,3}})"
_TITLE = (
    r"(?:(?:Mrs|Mr|Ms|Mme|Mlle|M|Dr)\.?\s+|feu\s+|the late\s+|"
    r"السيد\s+|السيدة\s+|المرحوم\s+|المرحومة\s+)?"
)
_AR_STOP = word_set(
    "المزداد المزدادة المولود المولودة بتاريخ تزاد تزادت تزاديت نهار في ف من و ولد "
    "ولدت ازداد ازدادت ابن ابنة بنت سميتو سميتها اسمه اسمها هو هي عقد نسخة الذي التي "
    "لي اللي على ديال ديالو ديالها ديالي باش راه كان بمدينة مدينة يوم سنة عام وذلك "
    "وشكرا شكرا وتقبلوا قصد أطلب اطلب بغيت والده والدته والدها والدتها ووالده ووالدته "
    "ووالدها ووالدتها والدي والدتي ووالدي ووالدتي باه باها مو مها وباه وباها ومو ومها "
    "رحمه يرحمه سميتي بابا ماما واسمي اسمي تاريخ شهر اسم الاسم محتاج محتاجة باغي باغية بغا "
    "بغات خاصو خاصها خاصني عندو عندها مزدادة مزداد مولود مولودة مزيود مزيودة"
)
_CUES: dict[str, list[str]] = {
    "father_name": [
        r"(?:son|mon|le|du|sa|notre)\s+p[èe]re|(?:his|her|my|the)\s+father|father|p[èe]re|"
        r"fils\s+de|fille\s+de|son\s+of|daughter\s+of|bba|bah|baba|papa|dad|bbah|bbaha|bbaho|"
        r"(?:his|her|my)\s+(?:father|dad)['’]?s\s+name",
        r"والده|والدها|والدي|والد|الأب|الاب|باه|باها|بابا|ابن|ابنة|بنت|اسم\s+الأب|اسم\s+والدي|"
        r"أبيه|ابيه|أبوه|ابوه|أبيها|ابيها|أبوها|ابوها|اسم\s+أبيه|اسم\s+ابيه|اسم\s+أبيها|"
        r"الوالد\s+(?:ديالو|ديالها|ديالي)",
    ],
    "mother_name": [
        r"(?:sa|ma|la|notre)\s+m[èe]re|(?:his|her|my|the)\s+mother|mother|m[èe]re|mama|mma|"
        r"et\s+de|mom|mum|mmha|mmo|mo|(?:his|her|my)\s+mother['’]?s\s+name",
        r"والدته|والدتها|والدتي|الأم|الام|أمه|أمها|امه|امها|مو|مها|ماما|اسم\s+الأم|اسم\s+والدتي|"
        r"اسم\s+أمه|اسم\s+امه|اسم\s+أمها|الوالدة\s+(?:ديالو|ديالها|ديالي)",
    ],
    "person_name": [
        r"(?:mon|my|ma|de\s+mon|de\s+ma|for\s+my)\s+(?:fils|fille|enfant|son|daughter|child|"
        r"husband|wife|mari|femme|[ée]poux|[ée]pouse|late\s+father|late\s+mother)|"
        r"je\s+m'appelle|my\s+name\s+is|nomm[ée]e?|named|called|weldi|bnti|benti|binti|smiti|"
        r"je\s+suis|i\s+am|ana|name\s*:|nom\s*:|full\s+name|nom\s+complet|au\s+nom\s+de|"
        r"in\s+the\s+name\s+of|(?:ma|mon)\s+(?:petite?|b[ée]b[ée])|"
        r"(?:my|mon|ma)\s+(?:little\s+|younger\s+|older\s+|big\s+)?(?:brother|sister|bro|sis|"
        r"nephew|niece|grandson|granddaughter|fr[èe]re|s(?:oe|œ)ur|neveu|ni[èe]ce|petit-fils|"
        r"petite-fille)|(?:wld|weld|bent|bnt)\s+(?:khouya|khoya|khti|khtí)|khouya|khoya|khti|"
        r"(?:certificate|certifcate|extract|extrait|copy|copie|acte)(?:\s+(?:de|d'|of)\s+"
        r"(?:naissance|birth))?\s+(?:for|pour|of|de)|"
        r"mrati|rajli|(?:dyal\s+)?(?:bba|mama)\s+lah\s+yr[h7]mo,?\s+smito",
        r"ابني|ابنتي|بابني|بابنتي|لابني|لابنتي|ولدي|بنتي|لبنتي|لولدي|اسمي|المسمى|المسماة|"
        r"سميتي|راجلي|مراتي|زوجي|زوجتي|لوالدي|لوالدتي|أنا|انا|الاسم|الاسم\s+الكامل|"
        r"(?:ل|ديال\s+)?(?:أختي|أخي|اختي|اخي|ختي|خويا|حفيدي|حفيدتي)(?:\s+(?:الصغرى|الكبرى|الصغير|الكبير))?|"
        r"(?:ولد|بنت)\s+(?:خويا|ختي|أخي|أختي|اخي|اختي)",
    ],
}
# A parent's own record ("رسم ولادة والدي المرحوم …", "l'acte de naissance de mon père"): the
# parent named is the person, read before the father and mother cues can take the name.
_PARENT_RECORD = [
    r"(?:acte|extrait|copie|certificat)[^.;\n]{0,40}?\bde\s+(?:mon|ma|feu\s+mon)\s+(?:p[èe]re|m[èe]re)|"
    r"(?:birth\s+(?:certificate|record|extract)|copy)\s+of\s+my\s+(?:late\s+)?(?:father|mother)|"
    r"(?:for|of)\s+my\s+(?:late\s+)?(?:father|mother)|my\s+late\s+(?:father|mother)|"
    r"my\s+(?:father|mother),?\s+the\s+late|"
    r"pour\s+(?:mon|ma|feu\s+mon)\s+(?:p[èe]re|m[èe]re)|(?:mon|ma)\s+(?:p[èe]re|m[èe]re),?\s+feu|"
    r"(?:dyal|dial|l|d)\s+(?:mmi|bba|baba|mama|bouya|lwalid|lwalida)",
    r"(?:ولادة|الولادة|ازدياد|الازدياد|ميلاد)\s+(?:والدي|والدتي|أبي|أمي|ابي|امي)|"
    r"ديال\s+(?:بابا|ماما|الوالد|الوالدة|مي|بويا)",
]
# After a parent-record cue only a comma, a colon or "his name is" may come before the name:
# "my mother is Mina" names the person's mother, "for my mother, Mrs Aicha" the person.
_RECORD_TAIL = (
    r"(?:\s*(?:,|:|،|lah\s+yr[h7]m(?:ha|ou|o)(?![\w])|الله\s+يرحم(?:ها|ه|و)(?![\w])|smito|smitha|smitou|"
    r"سميتو|سميتها|اسمه|اسمها))*\s*"
)
_CUE_TAIL = r"(?:\s*(?:c'est|c’est|est|is|s'appelle|s’appelle|was|:|,|named|called|smito|"
_CUE_TAIL += r"smitou|smitha|ana|"
_CUE_TAIL += r"kan|kant|هو|هي|سميتو|سميتها|سميتي|اسمه|اسمها|:|،))*\s*"
_PLACE_CUES = [
    r"(?<![\w])(?i:n[ée]e?|born|tzad\w*|tezad\w*|mzyou?da?|mzyoud\w*|naissance|naquit)(?![\w])"
    r"[^.;?!\n]{0,60}",
    r"(?<![\w])و?(?:ازددت|ازددنا|ازداد\w*|المزداد\w*|ولد|ولدت|ولدات|المولود\w*|مولود\w*|تزاد\w*|"
    r"مزداد\w*|مزيود\w*|مواليد|رزقنا|رزقت|مكان\s+(?:ال)?(?:ولادة|ازدياد)\w*)(?![\w])"
    r"[^.؛،\n]{0,50}",
]
_LATIN_PLACE = re.compile(
    r"(?<![\w])(?i:à|a|in|at|f|fi|d|(?:maternit[ée]|h[ôo]pital|clinique|hospital|sbitar)\s+"
    rf"(?:de|d'|of|dyal|d))\s*(?P<v>{_CAP}(?:\s+(?:{_PARTICLE}\s+)?{_CAP}){{0,2}})"
)
_AR_PLACE = re.compile(
    rf"(?<!\S)(?:بمدينة\s+|في\s+مدينة\s+|بمدينه\s+|مدينة\s+|في\s+|ف\s+|ب(?=\S)|ف(?=\S))"
    rf"(?P<v>{_AR_WORD}(?:\s+{_AR_WORD})?)"
)
_AR_NOT_PLACE = word_set(
    "غيت غينا تاريخ بتاريخ شهر يوم نهار سنة عام مستشفى المستشفى مدينة المدينة الدار دار حي "
    "ابني ابنتي ابنتنا ابننا بنتي ولدي المدرسة الإدارة الادارة الجماعة البلدية المقاطعة "
    "السوق الخدمة الشهر فالشهر " + " ".join(UNITS_AR) + " " + " ".join(MONTHS)
)


def _trim_arabic(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span cut before the first stop word (a cue, a preposition, a verb of birth)."""
    words = list(re.finditer(r"\S+", text[start:end]))
    kept_end = None
    for word in words:
        token = word.group(0).strip("،,.:")
        if token in _AR_STOP or (token.startswith("و") and token[1:] in _AR_STOP):
            break
        kept_end = start + word.start() + len(token)
    return (start, kept_end) if kept_end is not None else None


_PARENTS_PAIR = (
    r"(?<![\w])(?i:(?:(?:ses|his|her|my|mes|les|their|son|sa)\s+)?parents?(?:\s+(?:sont|"
    r"étaient|etaient|are|were))?\s*[:,]?|(?:fils|fille|son|daughter|child|enfant)\s+(?:de|of|d'))"
    rf"\s*{_TITLE}{_LATIN_NAME.replace('(?P<v>', '(?P<f>')}\s*,?\s+(?i:et|and|w|&)\s+"
    rf"(?i:de\s+|of\s+)?{_TITLE}{_LATIN_NAME.replace('(?P<v>', '(?P<m>')}"
)
"""Both parents named together, the father first as the civil records write them: ``Ses
parents : Abdellah Naciri w Rkia Sbai``, ``daughter of Jalil Benkirane and Souad Tber``."""

_AR_PARENTS_PAIR = (
    r"(?<!\S)(?:ابن|ابنة|بنت|من\s+والديه|من\s+والديها|من\s+والدين|والداه|والداها)\s+"
    rf"(?P<f>{_AR_WORD}(?:[^\S\n]+(?!و){_AR_WORD}){{0,3}})[^\S\n]+و(?P<m>{_AR_WORD}(?:[^\S\n]+{_AR_WORD}){{0,2}})"
)
"""Both parents after "son/daughter of": ``بنت أحمد الفاسي وفاطمة الشرقاوي``."""

_LATIN_STOP = word_set(
    "née nee né ne nés le la les l à a au aux en de du des d et and born on in at the of for "
    "my his her its is was est sont mon ma mes son sa ses pere père mere mère father mother "
    "fils fille daughter tzad tzadt tzadit tzadet nhar f fi dyal dial dyali dyalo dyalha li "
    "merci mercie please svp stp thanks thank you extrait acte birth certificate certifcate "
    "copie need je i bghit w o ou or with avec qui who that ana howa hiya smito smitha smiti "
    "c'est c’est name nom urgent bonjour salam hi hello slm needs wants veut besoin has have "
    "doit must will va wa kay khass khasso khassha bgha bghat naissance naissence naissanse "
    "naiss me moi myself"
)


def _written_in_lower_case(text: str) -> bool:
    """An SMS-style text: fewer than 2 % of its letters are capitals."""
    letters = [ch for ch in text if ch.isalpha() and ch.isascii()]
    return len(letters) >= 20 and sum(ch.isupper() for ch in letters) < 0.02 * len(letters)


def _lower_case_name(text: str, cues: str, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    """A lower-case name after a naming cue (``my name is``, ``son pere c'est``, ``smiti``),
    cut at the first word that cannot be part of a name; none shorter than one word."""
    naming = r"(?:\s*(?:c'est|c’est|est|is|s'appelle|:|smito|smitha|smiti|named|called))*\s*"
    pattern = rf"(?<![\w])(?i:{cues})(?![\w]){naming}{_LATIN_LOWER_NAME}"
    for match in re.finditer(pattern, text):
        start = match.start("v")
        end = start
        for word in re.finditer(r"\S+", match.group("v")):
            if word.group(0).lower() in _LATIN_STOP:
                break
            end = start + word.end()
        span = (start, end)
        if end > start and not any(a < end and start < b for a, b in taken):
            return span
    return None


def cue_spans(text: str) -> dict[str, tuple[int, int]]:
    """Where each fact is introduced by its words (``sa mère : Nadia El Fassi``, ``والده محمد
    الإدريسي``, ``tzad f Agadir``): the span of the value after its cue, first one found."""
    found: dict[str, tuple[int, int]] = {}
    taken: list[tuple[int, int]] = []
    for cues, name in zip(_PARENT_RECORD, (_LATIN_NAME, _AR_NAME), strict=True):
        pattern = rf"(?<![\w])(?i:{cues})(?![\w]){_RECORD_TAIL}{_TITLE}{name}"
        match = re.search(pattern, text)
        if match:
            span = match.span("v") if name is _LATIN_NAME else _trim_arabic(text, *match.span("v"))
            if span is not None and span[1] > span[0]:
                found["person_name"] = span
                taken.append(span)
                break
    pair = re.search(_PARENTS_PAIR, text)
    if pair is not None:
        for field, group in (("father_name", "f"), ("mother_name", "m")):
            span = pair.span(group)
            if not any(a < span[1] and span[0] < b for a, b in taken):
                found[field] = span
                taken.append(span)
    pair = re.search(_AR_PARENTS_PAIR, text)
    if pair is not None:
        for field, group in (("father_name", "f"), ("mother_name", "m")):
            trimmed = _trim_arabic(text, *pair.span(group))
            if (
                field not in found
                and trimmed
                and not any(a < trimmed[1] and trimmed[0] < b for a, b in taken)
            ):
                found[field] = trimmed
                taken.append(trimmed)
    lower = _written_in_lower_case(text)
    for field in ("father_name", "mother_name", "person_name"):
        if field in found:
            continue
        for cues, name in zip(_CUES[field], (_LATIN_NAME, _AR_NAME), strict=True):
            prefix = "و?" if name is _AR_NAME else ""
            pattern = rf"(?<![\w]){prefix}(?i:{cues})(?![\w]){_CUE_TAIL}{_TITLE}{name}"
            for match in re.finditer(pattern, text):
                span = match.span("v")
                if name is _AR_NAME:
                    span = _trim_arabic(text, *span) or (0, 0)
                if span[1] <= span[0] or any(a < span[1] and span[0] < b for a, b in taken):
                    continue
                if field not in found or span[0] < found[field][0]:
                    found[field] = span
                break
        if field not in found and lower:
            span = _lower_case_name(text, _CUES[field][0], taken)
            if span is not None:
                found[field] = span
        if field in found:
            taken.append(found[field])
    for cue in re.finditer(_PLACE_CUES[0], text):
        place = _LATIN_PLACE.search(text, cue.start())
        if place is not None and place.start() <= cue.end() + 30:
            found["place_of_birth"] = place.span("v")
            break
    if "place_of_birth" not in found and lower:
        for cue in re.finditer(_PLACE_CUES[0], text):
            place = re.compile(rf"(?<![\w])(?:à|a|in|at|f|fi)\s+(?P<v>{_LOWER})(?![\w])").search(
                text, cue.start(), cue.end() + 30
            )
            if place is not None and place.group("v").lower() not in _LATIN_STOP:
                found["place_of_birth"] = place.span("v")
                break
    for cue in re.finditer(_PLACE_CUES[1], text):
        if "place_of_birth" in found:
            break
        for place in _AR_PLACE.finditer(text, cue.start()):
            if place.start() > cue.end() + 30:
                break
            words = place.group("v").split()
            first = words[0]
            casablanca = words[:2] == ["الدار", "البيضاء"]
            if (first in _AR_NOT_PLACE and not casablanca) or first in _AR_STOP or len(first) < 3:
                continue
            trimmed = _trim_arabic(text, *place.span("v"))
            if trimmed is not None:
                found["place_of_birth"] = trimmed
                break
    return found
