"""Who is who in a request: the person whose record it is, their father and their mother,
read where the request's own words introduce them (``sa mère : Nadia El Fassi``, ``والده محمد
الإدريسي``, ``bbah smitou Ahmed``), and by the applicant's relationship to the person, which
the form asks: a mother's "my husband" is the person's father, a child's "ma mère" the person."""

from __future__ import annotations

import re

from agents.cue_words import (
    AR_NAME,
    AR_WORD,
    LATIN_LOWER_NAME,
    LATIN_NAME,
    LATIN_STOP,
    TITLE,
    overlapping,
    trim_arabic,
    written_in_lower_case,
)

_CUES: dict[str, list[str]] = {
    "father_name": [
        r"(?:(?:his|her|my)\s+)?(?:dad|father|p[èe]re)(?:['’]s)?\s+name|"
        r"(?:son|mon|le|du|sa|notre)\s+p[èe]re|(?:his|her|my|the)\s+father|father|p[èe]re|"
        r"fils\s+de|fille\s+de|son\s+of|daughter\s+of|bba|bah|baba|papa|dad|bbah|bbaha|bbaho|"
        r"babah|babaha|babaho|lwalid(?=\s*(?:(?i:a?l?lah)\s+yr[h7]m\w*\s*)?(?::|smito|smitou))|"
        r"(?:his|her|my)\s+(?:father|dad)['’]?s\s+name",
        r"والده|والدها|والدي|والد|الأب|الاب|باه|باها|بابا|ابن|ابنة|بنت|اسم\s+الأب|اسم\s+والدي|"
        r"أبيه|ابيه|أبوه|ابوه|أبيها|ابيها|أبوها|ابوها|اسم\s+أبيه|اسم\s+ابيه|اسم\s+أبيها|"
        r"الوالد\s+(?:ديالو|ديالها|ديالي)|باباه|باباها|"
        r"(?:الواليد|الوالد|باي|بابايا|بويا)(?=\s*(?:الله\s+يرحم\w*\s*)?(?:كان\s+)?(?::|سميتو|اسمه|هو))|"
        r"الواليد\s+(?:ديالو|ديالها|ديالي)|أبي|ابي|سمية\s+الأب|سمية\s+الاب",
    ],
    "mother_name": [
        r"(?:(?:his|her|my)\s+)?(?:mom|mum|mother|m[èe]re)(?:['’]s)?\s+name|"
        r"(?:sa|ma|la|notre)\s+m[èe]re|(?:his|her|my|the)\s+mother|mother|m[èe]re|mama|mma|"
        r"et\s+de|mom|mum|mmha|mmo|mo|(?:his|her|my)\s+mother['’]?s\s+name|mamaha|mamah|"
        r"mamaho|mmah|mmi|mmti|mamti|lwalida(?=\s*(?::|smitha))",
        r"والدته|والدتها|والدتي|الأم|الام|أمه|أمها|امه|امها|ماما|(?:مو|مها)(?=\s*(?:الله\s+يرحم\w*\s*)?(?:كانت\s+)?(?:[:،,]|سميتها|اسمها|هي))|اسم\s+الأم|اسم\s+والدتي|"
        r"اسم\s+أمه|اسم\s+امه|اسم\s+أمها|الوالدة\s+(?:ديالو|ديالها|ديالي)|ماماه|ماماها|مامتو|"
        r"مامتها|موها|مّها|مّو|ومّها|(?:الواليدة|الوالدة)(?=\s*(?::|سميتها|اسمها))|"
        r"الواليدة\s+(?:ديالو|ديالها|ديالي)|(?:مي|مامايا)(?=\s*(?:الله\s+يرحم\w*\s*)?(?::|سميتها|"
        r"اسمها|هي))|أمي|امي|سمية\s+الأم|سمية\s+الام",
    ],
}
_CHILD_WORDS = [
    r"(?:mon|my|ma|de\s+mon|de\s+ma|for\s+my|son|sa|his|her)\s+(?:(?:little|younger|youngest|older|"
    r"eldest|elder|only|baby)\s+)?(?:fils|fille|enfant|son|daughter|child|boy|girl|"
    r"nephew|niece|grandson|granddaughter|neveu|ni[èe]ce|petit-fils|petite-fille)|"
    r"weldi|wldi|wlidi|bnti|benti|binti|(?:ma|mon|la|le)\s+(?:petite?|b[ée]b[ée])|l['’]enfant|"
    r"(?:the|this)\s+child|(?:la\s+maman|le\s+papa|la\s+m[èe]re|le\s+p[èe]re|the\s+mother|"
    r"the\s+father)\s+(?:de|of)|(?:my|mon|ma)\s+(?:stepson|stepdaughter|beau-fils|belle-fille)|"
    r"(?:lwas+i|wasi|legal\s+guardian|tut(?:eur|rice))\s+(?:3la|of|de)(?:\s+(?:khti|khouya|my|ma|mon|"
    r"sghira|sghir|niece|nephew|ni[èe]ce|neveu))*|(?:mmha|mmo|mamah|mamaha|bbaha|bbah|bba|mama|baba)\s+d[iy]al|jddat|jddt|"
    r"jedda|"
    r"(?:wld|weld|bent|bnt)\s+(?:khouya|khoya|khti|khtí)|jeddt|jedd?a\s+d[iy]al|jed\s+d[iy]al|"
    r"(?:grand-m[èe]re|grand-p[èe]re|grandmother|grandfather)\s+(?:de|of)",
    r"ابني|ابنتي|بابني|بابنتي|لابني|لابنتي|ولدي|بنتي|لبنتي|لولدي|ابننا|ابنتنا|بابننا|بابنتنا|"
    r"لابننا|لابنتنا|ولدنا|بنتنا|ربيبتي|ربيبي|(?:الوصي|وصي|الكافل|الكافلة)\s+(?:الشرعي\s+)?(?:على|ل)|حفيدي|حفيدتي|لحفيدي|لحفيدتي|(?:على\s+|لل|ل)?(?:الطفل|الطفلة|طفلي|طفلتي)|"
    r"(?:ولد|بنت)\s+(?:خويا|ختي|أخي|أختي|اخي|اختي)",
]
"""The person when the applicant is their parent or guardian (``ma fille``, ``ابني``)."""
_SIBLING_WORDS = [
    r"(?:pour|for|of|de|d['’]|dyal|dial|l)\s+(?:mon|ma|my)?\s*(?:(?:little|younger|older|big)\s+)?"
    r"(?:brother|sister|fr[èe]re|s(?:oe|œ)ur|khouya|khoya|khti)",
    r"(?:ل|ديال\s+|ازدياد\s+|ولادة\s+)(?:أختي|أخي|اختي|اخي|ختي|خويا)",
]
"""A brother or a sister the record is for (``pour mon frère``); a sibling named otherwise is
the one who will collect it."""
_SIBLING_BARE = [
    r"(?:my|mon|ma)\s+(?:(?:little|younger|older|big)\s+)?(?:brother|sister|bro|sis|fr[èe]re|"
    r"s(?:oe|œ)ur)|khouya|khoya|khti",
    r"(?:ل|ديال\s+)?(?:أختي|أخي|اختي|اخي|ختي)|(?:ل|ديال\s+)خويا",
]
"""Any brother or sister named, when the form gives no relationship that excludes them."""
_SPOUSE_WORDS = [
    r"(?:mon|my|ma)\s+(?:husband|wife|mari|femme|[ée]poux|[ée]pouse)|mrati|rajli|widow\s+of|"
    r"widower\s+of|veuve\s+de|veuf\s+de",
    r"راجلي|مراتي|زوجي|زوجتي|الراجل\s+ديالي|المرا\s+ديالي|مرتي|أرملة|ارملة",
]
_GRANDPARENT_WORDS = [
    r"(?:mon|ma|my)\s+(?:late\s+|feue?\s+|d[ée]funte?\s+)?(?:grand[-\s]?p[èe]re|grand[-\s]?m[èe]re|grandpa|"
    r"grandma|grandfather|grandmother)|jeddti|jeddi|jedda\s+dyali|"
    r"(?:late\s+father|late\s+mother)|(?:dyal\s+)?(?:bba|mama)\s+lah\s+yr[h7]mo,?\s+smito",
    r"(?:ل|ديال\s+)?(?:جدي|جدتي)|لوالدي|لوالدتي",
]
_ON_BEHALF = [
    r"on\s+behalf\s+of|pour\s+le\s+compte\s+de|(?:our|notre|mon|ma|my|la|le|l)\s+(?:client|cliente)(?:\s+dyalna)?|"
    r"(?:our|notre)\s+(?:employee|beneficiary|b[ée]n[ée]ficiaire|employ[ée]e?)|we\s+act\s+for|"
    r"3la\s+9bel(?:\s+(?:sa7bti|sahbti|sa7bi|sahbi|khti|khouya))?|khalti|khali|3ammti|3ammi|"
    r"(?:ma|my)\s+(?:tante|aunt)|(?:mon|my)\s+(?:oncle|uncle)|[àa]\s+la\s+demande\s+de|"
    r"at\s+the\s+request\s+of",
    r"(?:بناء|بناءً)\s+على\s+طلب|نيابة\s+عن|على\s+قبل|لفائدة|موكلتنا|موكلنا|الموكلة(?:\s+ديالنا)?|الموكل(?:\s+ديالنا)?|موكلتي|"
    r"موكلي|المعني\s+بالأمر|المعنية\s+بالأمر|النزيل|النزيلة|خالتي|خالي|عمتي|عمي",
]
"""Someone writing for the person (a lawyer, a public writer, a nephew): with ``self``, the one
they write for is the person."""
_FOR_DOCUMENT = [
    r"(?:certificate|certifcate|extract|extrait|copy|copie|acte)(?:\s+(?:de|d'|of)\s+"
    r"(?:naissance|birth))?\s+(?:for|pour|of|de)",
    r"(?!)",
]
_RELATIVE_CUES = {
    "parent": [_CHILD_WORDS, _SIBLING_WORDS],
    "spouse": [_SPOUSE_WORDS],
    "child": [_GRANDPARENT_WORDS],
    "self": [_ON_BEHALF],
    None: [_CHILD_WORDS, _SIBLING_BARE, _SPOUSE_WORDS, _GRANDPARENT_WORDS],
}
"""Which kin words name the person, by the applicant's relationship to the person (the form's
field): a mother's "my husband" is the person's father, a man's "ma fille" names the person
only when the record is his daughter's."""
_NAMING = [
    r"(?:son|sa|his|her)\s+pr[ée]nom|(?:his|her)\s+name(?:\s+(?:is|was))?|(?:he|she)['’]s|"
    r"(?:he|she)\s+is|(?:il|elle)\s+s['’]appel(?:le|ait)|full\s+name|nom\s+complet|"
    r"nom\s+et\s+pr[ée]noms?\s*:|nom\s+(?:de\s+famille\s+)?et\s+pr[ée]noms?|name\s*:|nom\s*:|"
    r"nomm[ée]e?|named|called|smito|smitou|smitha|(?:il|elle)\s+est|smiya\s*:|smiyto|"
    r"(?:(?:his|her|my)\s+)?details\s*:|renseignements\s*:|"
    r"au\s+nom\s+de|in\s+the\s+name\s+of",
    r"سميتها\s+الكاملة|سميتو\s+الكاملة|المعلومات\s*:|الاسم\s+العائلي\s+والشخصي|الاسم\s+الشخصي\s+والعائلي|الاسم\s+الكامل|الاسم(?=\s*:)|السمية\s+الكاملة|السمية(?=\s*:)|سميتو|سميتها|اسمه|اسمها|المسمى|"
    r"المسماة",
]
"""Words that name the person whose record it is, where no kin word does (``Full name: …``,
``سميتو الحسين أوبلا``); a parent's cue, read first, has taken the names it introduces."""
_SELF = [
    r"je\s+m['’]appelle|my\s+name(?:\s+is)?|mon\s+nom|(?:mon|my)\s+pr[ée]nom|pour\s+moi|for\s+me|"
    r"je\s+m['’]?ap+el+e|smiti|je\s+soussign[ée]e?|moi\s+c['’]est|je\s+suis|i\s+am|i['’]m\s+the\s+(?:father|mother),?|"
    r"ana",
    r"أنا\s+الموقعة?\s+أسفله|انا\s+الموقعة?\s+اسفله|اسمي|سميتي|أنا|انا",
]
"""The writer naming themself: read last, as the person's name when the record is their own
(never from a lower-case text: ``ana sakna f tanja`` is no name), as a parent's when it is
their child's (:func:`_writer_as_parent`)."""
_SELF_LOWER = (
    r"je\s+m['’]appelle|my\s+name(?:\s+is)?|mon\s+nom|(?:mon|my)\s+pr[ée]nom|smiti|ana\s+smiti|"
    r"pour\s+moi|for\s+me"
)
"""In a lower-case text, only words that say "my name is" name the writer."""
_NOT_A_PARENT = re.compile(
    r"kaf[ie]la?|الكافلة|الكافل|كافل|guardian|tut(?:eur|rice)|وصي|grand-m[èe]re|grand-p[èe]re|"
    r"grandmother|grandfather|jeddt|jedd?a\s+d[iy]al|khalti|3ammti|خالتي|عمتي|écrivain\s+public|"
    r"الكاتب\s+العمومي|كاتب\s+عمومي|avocat|lawyer|محام|neveu|ni[èe]ce|nephew|niece|"
    r"(?:ولد|بنت)\s+(?:خويا|ختي)|(?:ابن|ابنة)\s+(?:أخي|أختي|اخي|اختي)|wld\s+khouya|bnt\s+khti",
    re.IGNORECASE,
)
_WRITER = [_SELF[0] + r"|from\s*:|de\s*:", _SELF[1] + r"|من\s*:"]
_WRITES_AS_MOTHER = re.compile(
    r"soussign[ée]e|الموقعة|الحاملة|القاطنة|ساكنة|خدامة|sakna|je\s+suis\s+(?:sa|la)\s+m[èe]re|"
    r"i\s+am\s+(?:his|her|the)\s+mother|mmo\s+dyal|وأنا\s+والدته|أنا\s+أم|أنا\s+مو|my\s+husband|"
    r"mon\s+mari|rajli|راجلي|زوجي(?!ت)|أرملة|ارملة|widow(?!er)|veuve|la\s+maman|ana\s+(?:mmha|mmo|mamah|mamaha)|أنا\s+مّ|"
    r"أنا\s+الأم",
    re.IGNORECASE,
)
_WRITES_AS_FATHER = re.compile(
    r"soussign[ée](?!e)|الموقع(?!ة)|الحامل(?!ة)|القاطن(?!ة)|ساكن(?!ة)|خدام(?!ة)|sak[ei]?n(?!a)|"
    r"je\s+suis\s+(?:son|le)\s+p[èe]re|i\s+am\s+(?:his|her|the)\s+father|my\s+wife|ma\s+femme|"
    r"mrati|مراتي|زوجتي",
    re.IGNORECASE,
)


def _writer_as_parent(
    text: str, found: dict[str, tuple[int, int]], taken: list[tuple[int, int]]
) -> None:
    """The applicant is the person's parent and names themself ("Je suis Karim Bennani",
    ``أنا سميرة الكتاني، ساكنة…``): the father or the mother, when the text tells which: the
    other parent is already named, or the writer's words are a woman's or a man's."""
    if "father_name" in found and "mother_name" in found:
        return
    if _NOT_A_PARENT.search(text):
        return  # a guardian or a public writer: not a parent
    span = _named_after(text, _WRITER, _CUE_TAIL, taken)
    if span is None and written_in_lower_case(text):
        span = _lower_case_name(text, _SELF_LOWER, taken)
    if span is None:
        span = signature(text, taken)
    if span is None:
        return
    before = text[max(0, span[0] - 12) : span[0]]
    if _FEMALE_TITLE.search(before) and "mother_name" not in found:
        field = "mother_name"
    elif _MALE_TITLE.search(before) and "father_name" not in found:
        field = "father_name"
    elif "father_name" in found:
        field = "mother_name"
    elif "mother_name" in found:
        field = "father_name"
    else:
        mother, father = _WRITES_AS_MOTHER.search(text), _WRITES_AS_FATHER.search(text)
        if bool(mother) == bool(father):
            return
        field = "mother_name" if mother else "father_name"
    found[field] = span
    taken.append(span)


_CHILD_RECORD = [
    r"(?:my|mon|ma|notre)\s+(?:late\s+|feue?\s+|d[ée]funte?\s+)?(?:father|mother|dad|mom|"
    r"mum|p[èe]re|m[èe]re)|lwalid|lwalida|walidi|walidti|bba|mama|mmi|bouya|"
    r"(?:je\s+suis|i\s+am)[^,.;\n]{0,40},?\s+(?:(?:la|le|the)\s+)?(?:fille|fils|daughter|son)\s+(?:de|of)",
    r"(?:والدي|والدتي|أبي|أمي|ابي|امي)(?=\s+(?:الحاج|الحاجة|المرحوم|المرحومة|السيد|السيدة|"
    r"الفقيد|الفقيدة)\s|\s*[:،,])|(?:الواليد|الواليدة|الوالد|الوالدة|بابا|ماما|مي|بويا)"
    r"(?=\s*(?:الله\s+يرحم\w*\s*)?(?:[:،,]|سميتو|سميتها|اسمه|اسمها))|"
    r"(?:الوالدة|الواليدة|الوالد|الواليد)\s+ديالي",
]
"""When the applicant is the person's child (the form's ``relationship``), "my mother, Mme
Rkia Haddaoui" names the person, not a parent of the person."""
# A parent's own record ("رسم ولادة والدي المرحوم …", "l'acte de naissance de mon père"): the
# parent named is the person, read before the father and mother cues can take the name.
_PARENT_RECORD = [
    r"(?:acte|extrait|copie|certificat)[^.;\n]{0,40}?\bde\s+(?:mon|ma|feu\s+mon)\s+(?:p[èe]re|m[èe]re)|"
    r"(?:birth\s+(?:certificate|record|extract)|copy)\s+of\s+my\s+(?:late\s+)?(?:father|mother)|"
    r"(?<!behalf\s)(?:for|of)\s+my\s+(?:late\s+)?(?:father|mother)|my\s+late\s+(?:father|mother)|"
    r"my\s+(?:father|mother),?\s+the\s+late|"
    r"pour\s+(?:mon|ma|feu\s+mon)\s+(?:p[èe]re|m[èe]re)|(?:mon|ma)\s+(?:p[èe]re|m[èe]re),?\s+feu|"
    r"(?:dyal|dial|l|d)\s+(?:mmi|bba|baba|mama|bouya|lwalid|lwalida)",
    r"(?:ولادة|الولادة|ازدياد|الازدياد|ميلاد)\s+(?:والدي|والدتي|أبي|أمي|ابي|امي)|"
    r"ديال\s+(?:بابا|ماما|الوالد|الوالدة|مي|بويا)",
]
# After a parent-record cue only a comma, a colon or "his name is" may come before the name:
# "my mother is Mina" names the person's mother, "for my mother, Mrs Aicha" the person.
_RECORD_TAIL = (
    r"(?:[^\S\n]*(?:[,:،(]|(?:(?i:a?l?lah)\s+yr[h7]m(?:ha|ou|o)|الله\s+يرحم(?:ها|ه|و)|smito|smitha|smitou|"
    r"سميتو|سميتها|اسمه|اسمها)(?![\w])))*[^\S\n]*"
)
_CUE_TAIL = (
    r"(?:[^\S\n]*(?:[,:،(]|(?:c'est|c’est|c'était|c’était|était|etait|est|is|s'appelle|s’appelle|"
    r"was|named|called|smito|smitou|smitha|ana|kan|kant|كان|كانت|هو|هي|سميتو|سميتها|سميتي|اسمه|اسمها|أنا|"
    r"انا|ديالو|ديالها|ديالي|dyalo|dyalha|dyali|dialo|dialha|"
    r"الله\s+يرحم(?:و|ه|ها)|(?i:a?l?lah)\s+yr[h7]m(?:o|ou|ha)|يعني|ya3ni|jeddti|جدي|جدتي)(?![\w])))*"
    r"[^\S\n]*"
)
"""What may stand between a cue and its name: "is", "c'est", "سميتو", a comma, "الله يرحمو";
each a whole word (``اسمه`` is not the start of ``اسمها``)."""


_PARENTS_PAIR = (
    r"(?<![\w])(?i:(?:(?:ses|his|her|my|mes|les|their|son|sa)\s+)?parents?(?:\s+(?:sont|"
    r"étaient|etaient|are|were))?\s*[:,]?|(?:fils|fille|son|daughter|child|enfant)\s+(?:de|of|d')|"
    r"(?:n[ée]e?|born)(?![\w])[^.;\n]{0,80}?\s(?:de|of|to))"
    rf"\s*{TITLE}{LATIN_NAME.replace('(?P<v>', '(?P<f>')}(?:\s*\([^)\n]{{0,12}}\))?\s*,?\s+"
    rf"(?i:et|and|w|&)\s+"
    rf"(?i:de\s+|of\s+)?{TITLE}{LATIN_NAME.replace('(?P<v>', '(?P<m>')}"
)
_LOWER_PARENTS_PAIR = (
    r"(?<![\w])(?i:parents?)\s*(?:are|were|sont|:)?\s*:?\s*(?P<f>[a-z]{2,}(?:\s+[a-z]{2,}){0,2}?)"
    r"\s*(?:&|\s(?:et|and|w|o)\s)\s*(?P<m>[a-z]{2,}(?:\s+(?!(?:her|his|my|name|born|ne|nee|"
    r"né|née|w|o|et|and|merci|thx|thanks)(?![\w]))[a-z]{2,}){0,2})"
)
"""The same pair typed in lower case (``her parents: mohamed zeroual & khadija bahi``)."""
"""Both parents named together, the father first as the civil records write them: ``Ses
parents : Abdellah Naciri w Rkia Sbai``, ``daughter of Jalil Benkirane and Souad Tber``."""

_AR_PARENTS_PAIR = (
    r"(?<!\S)(?:ابن|ابنة|بنت|من\s+والديه|من\s+والديها|من\s+والدين|والداه|والداها|من\s+أبيه|من\s+ابيه|"
    r"من\s+أبيها|من\s+ابيها)\s+"
    rf"(?P<f>{AR_WORD}(?:[^\S\n]+(?!و){AR_WORD}){{0,3}})[^\S\n]+و(?:أمه|امه|أمها|امها)?[^\S\n]*"
    rf"(?P<m>{AR_WORD}(?:[^\S\n]+{AR_WORD}){{0,2}})"
)
"""Both parents after "son/daughter of": ``بنت أحمد الفاسي وفاطمة الشرقاوي``."""


def _lower_case_name(text: str, cues: str, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    """A lower-case name after a naming cue (``my name is``, ``son pere c'est``, ``smiti``),
    cut at the first word that cannot be part of a name; none shorter than one word."""
    naming = (
        r"(?:\s*(?:(?:c'est|c’est|c'était|c’était|était|etait|c|moi|est|is|was|s'appelle|s’appelle|"
        r"smito|smitou|smitha|smiti|named|called|feue?|lmrhoum|lmerhoum|lmarhoum|late|m\.|mr\.?|"
        r"mme|mrs\.?|ms\.?)(?![\w'’])|:))*\s*"
    )
    pattern = rf"(?<![\w-])(?i:{cues})(?![\w]){naming}(?=[a-zà-ÿ]){LATIN_LOWER_NAME}"
    for match in overlapping(re.compile(pattern), text, 0, len(text)):
        start = match.start("v")
        end = start
        for word in re.finditer(r"\S+", match.group("v")):
            if re.split(r"['’]", word.group(0).lower())[0] in LATIN_STOP:
                break
            end = start + word.end()
        span = (start, end)
        if end > start and not _overlaps(span, taken):
            return span
    return None


_NOT_A_PERSON = re.compile(
    r"(?:سبيطار|صبيطار|مستشفى|المستشفى|مصحة|شارع|زنقة|مدرسة|ثانوية|h[ôo]pital|hospital|"
    r"sbitar|rue|avenue|lyc[ée]e|[ée]cole|school)\s*(?:ديال\s*|dyal\s*|de\s*|d['’]\s*)?$",
    re.IGNORECASE,
)
"""A cue word right after a hospital or a street names that, not a parent (``سبيطار ابن سينا``)."""


_SPOUSE = {
    "mother_name": [
        r"(?:my|ma)\s+(?:ex-?\s*wife|ex-?femme|wife|femme|[ée]pouse)|mrati|widower\s+of|veuf\s+de",
        r"زوجتي|مراتي|مرتي|المرا\s+ديالي|طليقتي|أرمل(?!ة)",
    ],
    "father_name": [
        r"(?:my|mon)\s+(?:ex-?\s*husband|ex-?mari|husband|mari|[ée]poux)|rajli|widow\s+of|veuve\s+de",
        r"زوجي|راجلي|الراجل\s+ديالي|طليقي|أرملة|ارملة",
    ],
}
"""When the applicant is the person's parent, "my wife Imane" names the person's mother."""


_FIRST_PERSON = re.compile(
    r"(?:(?i:my|mon|ma|notre)\s|(?i:lwalid|lwalida|bba|mama|mmi|bouya|dad|mom|papa)(?![\w])|"
    r"و?(?:والدي|والدتي|أبي|أمي|ابي|امي|الواليد|الواليدة|الوالد|الوالدة|بابا|ماما|مي|بويا|باي)(?![\w]))"
    r"(?![^\S\n]*(?:ديالو|ديالها|dyalo|dyalha|dialo|dialha)(?![\w]))"
)
_FEMALE_TITLE = re.compile(
    r"(?<![\w])(?:Mrs|Ms|Mme|Mlle|Madame|Lalla|feue|السيدة|الحاجة|المرحومة|الفقيدة|الراحلة)\.?[^\S\n]*$"
)
_MALE_TITLE = re.compile(
    r"(?<![\w])(?:Mr|M|Monsieur|feu|السيد|الحاج|المرحوم|الفقيد|الراحل)\.?[^\S\n]*$"
)


def _by_title(text: str, found: dict[str, tuple[int, int]]) -> None:
    """A father's cue before "Mrs" (``daughter of Mrs. Latifa Ouhadi``) names the mother, a
    mother's before "Mr" the father."""
    for field, other, title in (
        ("father_name", "mother_name", _FEMALE_TITLE),
        ("mother_name", "father_name", _MALE_TITLE),
    ):
        span = found.get(field)
        if span and other not in found and title.search(text[max(0, span[0] - 12) : span[0]]):
            found[other] = found.pop(field)


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a < span[1] and span[0] < b for a, b in taken)


def _named_after(
    text: str, cues: list[str], tail: str, taken: list[tuple[int, int]], mine: bool = True
) -> tuple[int, int] | None:
    """The earliest name, in either script, right after one of ``cues`` (Latin cues first in
    the list, Arabic second) and not already taken by another field. ``mine`` false: a cue in
    the first person ("my father", ``والدي``) names the applicant's kin, not the person's."""
    best: tuple[int, int] | None = None
    for index, cue in enumerate(cues):
        prefix = "و?" if index == 1 else ""
        for name in (LATIN_NAME, AR_NAME):
            pattern = rf"(?<![\w-]){prefix}(?i:{cue})(?![\w]){tail}{TITLE}{name}"
            for match in re.finditer(pattern, text):
                if _NOT_A_PERSON.search(text[max(0, match.start() - 16) : match.start()]):
                    continue
                if not mine and _FIRST_PERSON.match(match.group(0)):
                    continue
                span: tuple[int, int] | None = match.span("v")
                if name is AR_NAME and span is not None:
                    span = trim_arabic(text, *span)
                if span is None or span[1] <= span[0] or _overlaps(span, taken):
                    continue
                if best is None or span[0] < best[0]:
                    best = span
                break
    return best


def person_spans(text: str, relationship: str | None = None) -> dict[str, tuple[int, int]]:
    """Where each fact is introduced by its words (``sa mère : Nadia El Fassi``, ``والده محمد
    الإدريسي``, ``tzad f Agadir``): the span of the value after its cue, first one found.
    ``relationship`` is the applicant's to the person, from the form (``child``: "my mother
    Rkia" is the person)."""
    found: dict[str, tuple[int, int]] = {}
    taken: list[tuple[int, int]] = []
    child = [f"{a}|{b}" for a, b in zip(_CHILD_RECORD, _GRANDPARENT_WORDS, strict=True)]
    records = [_PARENT_RECORD] + ([child] if relationship == "child" else [])
    for cues in records:
        span = _named_after(text, cues, _RECORD_TAIL, taken)
        if span is not None:
            found["person_name"] = span
            taken.append(span)
            break
    if relationship == "parent":
        for field, cues in _SPOUSE.items():
            span = _named_after(text, cues, _CUE_TAIL, taken)
            if span is not None:
                found[field] = span
                taken.append(span)
    pair = re.search(_PARENTS_PAIR, text)
    if pair is None and written_in_lower_case(text):
        pair = re.search(_LOWER_PARENTS_PAIR, text)
    if pair is not None:
        for field, group in (("father_name", "f"), ("mother_name", "m")):
            span = pair.span(group)
            if not _overlaps(span, taken):
                found[field] = span
                taken.append(span)
    pair = re.search(_AR_PARENTS_PAIR, text)
    if pair is not None and _NOT_A_PERSON.search(text[max(0, pair.start() - 16) : pair.start()]):
        pair = None
    if pair is not None:
        for field, group in (("father_name", "f"), ("mother_name", "m")):
            trimmed = trim_arabic(text, *pair.span(group))
            if field not in found and trimmed and not _overlaps(trimmed, taken):
                found[field] = trimmed
                taken.append(trimmed)
    lower = written_in_lower_case(text)
    relatives = [*_RELATIVE_CUES.get(relationship, _RELATIVE_CUES[None]), _FOR_DOCUMENT]
    person = ["|".join(cues[0] for cues in relatives), "|".join(cues[1] for cues in relatives)]
    for field in ("father_name", "mother_name", "person_name"):
        if field in found:
            continue
        if field == "person_name":
            stages = [person, _NAMING] + ([_SELF] if relationship in (None, "self") else [])
        else:
            stages = [_CUES[field]]
        for stage in stages:
            mine = field == "person_name" or relationship != "child"
            span = _named_after(text, stage, _CUE_TAIL, taken, mine=mine)
            if span is None and lower:
                span = _lower_case_name(text, _SELF_LOWER if stage is _SELF else stage[0], taken)
            if span is not None:
                found[field] = span
                taken.append(span)
                break
    _by_title(text, found)
    if relationship == "parent":
        _writer_as_parent(text, found, taken)
    elif relationship == "self" and "person_name" not in found:
        span = signature(text, taken)
        if span is not None:
            found["person_name"] = span
    return found


_SIGNING = (
    r"(?:(?i:thanks|thank\s+you|thx|merci(?:\s+(?:bcp|beaucoup|d['’]avance))?|cordialement|regards|"
    r"best\s+regards|kind\s+regards|chokran|signature|sign[ée]|شكرا|الإمضاء|التوقيع)[^\S\n]*[:,]?[^\S\n]*)?"
)
_SIGNATURE = re.compile(
    rf"(?:^|[\n.!?])[^\S\n]*[-–—/]*[^\S\n]*{_SIGNING}[-–—/]*[^\S\n]*(?:{LATIN_NAME}|"
    rf"{AR_NAME.replace('(?P<v>', '(?P<a>')}|{LATIN_LOWER_NAME.replace('(?P<v>', '(?P<l>')})"
    r"[^\S\n]*(?:[-–—,(][^\S\n]*(?:CIN|C\.I\.N|Tél|Tel|phone|\+?[\d ()]{6,}|[A-Z]{1,2}\d{4,7})"
    r"[^\n]*)?"
    r"[\s/.]*$"
)
"""A name alone at the end, the writer's signature (``… merci / Khadija Bennani``, ``- Zakaria``,
``الإمضاء: عبد الجبار بنشقرون``), a phone or an ID number after it allowed."""


_OWN_LINE = re.compile(rf"[^\S\n]*[-–—/]*[^\S\n]*{_SIGNING}[-–—/]*[^\S\n]*")


def signature(text: str, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The span of the name the request is signed with, if it ends with one."""
    match = _SIGNATURE.search(text.rstrip())
    if match is None:
        return None
    for group in ("v", "a", "l"):
        if match.group(group):
            start, end = match.span(group)
            line = text[text.rfind("\n", 0, start) + 1 : start]
            if group != "v" and not _OWN_LINE.fullmatch(line):
                return None  # an Arabic or a lower-case "name" must stand on its own line
            if group == "a":
                trimmed = trim_arabic(text, start, end)
                if trimmed is None:
                    return None
                start, end = trimmed
            elif any(word.lower() in LATIN_STOP for word in match.group(group).split()):
                return None  # "merci", "choukran": a closing word, not a lower-case name
            span = (start, end)
            return None if _overlaps(span, taken) else span
    return None
