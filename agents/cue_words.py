"""The shapes of names and the small words around them, shared by the cues of
:mod:`agents.name_cues` and :mod:`agents.place_cues`: a name in Latin script (capitalised, all
capitals, or typed in lower case), a name in Arabic script, the titles before a name and the
words that end one."""

from __future__ import annotations

import re
from collections.abc import Iterator

from agents.language import word_set

PARTICLE = r"(?:El|el|Ben|ben|Ait|Aït|ait|Al|al|Ou|Bel|Bou|Ibn|Abou|Sidi|Moulay|Lalla|d'|de|des|du)"
CAP = (
    r"(?:[A-ZÀ-ÝÉ][a-zà-ÿ-]*[a-zà-ÿ](?:['’][a-zà-ÿ]{2,}[a-zà-ÿ-]*)*|(?!(?:CIN|DOB|POB|CNSS|AMO|RAMED|SVP|TEL|URGENT)(?![A-Z]))"
    r"[A-Z]{2,}(?![a-z]))"
)
"""A capitalised word, or one written all in capitals (``EL AMRANI Hamza``)."""
NOT_A_NAME = (
    r"(?!(?:Monsieur|Madame|Mademoiselle|Messieurs|Président|President|Objet|Object|Dear|Sir|"
    r"Madam|Le|La|Les|Nom|Prénom|Date|Lieu|Mr|Mrs|Ms|Mme|Réf|Ref|Dossier|Cordialement|Merci|"
    r"Bonjour|Hello|Salam|Officier|Caïd|Pacha|Wali|Mobile|Phone|Tel|Tél|Email|From|To|Subject|"
    r"Re|CIN|Sent|Allah|Hi|Hey|Coucou|Slt|Salut|Chokran|Thank|Thanks|Regards|Kind|Best|Sincerely|Respectueusement|Bonne|Please)"
    r"(?![\w]))"
)
"""Words that open a letter or address an official, never a citizen's name."""
LATIN_NAME = rf"(?P<v>{NOT_A_NAME}{CAP}(?:[^\S\n]+(?:{PARTICLE}[^\S\n]+)?{CAP}){{0,3}})"
LOWER = r"[a-zà-ÿ'’-]{2,}"
LATIN_LOWER_NAME = rf"(?P<v>{LOWER}(?:[^\S\n]+{LOWER}){{0,3}})"
"""A name as SMS writers type it, all lower case (``yasmine el idrissi``): read only in a text
written in lower case, cut at the first word that is not part of a name (:data:`LATIN_STOP`)."""
AR_WORD = r"[\u0621-\u064a\u064b-\u0652\u0671-\u06d3\u06a9\u06af]+"
AR_NAME = rf"(?P<v>{AR_WORD}(?:[^\S\n]+{AR_WORD}){{0,5}})"
TITLE = (
    r"(?:(?:(?:Mrs|Mr|Ms|Mme|Mlle|M|Dr)\.?|Madame|Monsieur|feue?|the late|"
    r"السيد|السيدة|المرحوم|المرحومة|الحاج|الحاجة|الفقيد|الفقيدة|الراحل|الراحلة)[^\S\n]+){0,2}"
)
AR_STOP = word_set(
    "المزداد المزدادة المولود المولودة بتاريخ تزاد تزادت تزاديت نهار في ف من و ولد "
    "ولدت ازداد ازدادت ابن ابنة بنت سميتو سميتها اسمه اسمها هو هي عقد نسخة الذي التي "
    "لي اللي على ديال ديالو ديالها ديالي باش راه كان بمدينة مدينة يوم سنة عام وذلك "
    "وشكرا شكرا وتقبلوا قصد أطلب اطلب بغيت والده والدته والدها والدتها ووالده ووالدته "
    "ووالدها ووالدتها والدي والدتي ووالدي ووالدتي باه باها مو مها وباه وباها ومو ومها "
    "رحمه يرحمه سميتي بابا ماما واسمي اسمي تاريخ شهر اسم الاسم محتاج محتاجة باغي باغية بغا "
    "بغات خاصو خاصها خاصني عندو عندها مزدادة مزداد مولود مولودة مزيود مزيودة "
    "الموقع الموقعة أسفله اسفله أسفل الحامل الحاملة بموجب حكم أنا انا يرحمو يرحمها "
    "توفى توفي توفات توفيت المتوفى المتوفاة كبيرة كبير مريض مريضة ساكن ساكنة كنسكن "
    "الواليد الواليدة الوالد الوالدة نواحي ضواحي قرب إقليم اقليم عمالة التابع التابعة "
    "الحفيد الحفيدة وصي قانوني أم أب جدة جد يحتاج تحتاج يريد تريد مقيم مقيمة يعيش تعيش اه آه "
    "ايوا يعني واخا عايش عايشة مسافر مسافرة مي منذ بعد قبل عند مع حيث لأن لان كما أو او ثم حتى "
    "إلى الى عن وفاة والديه والديها وهو وهي قد صرح كان كانت خدام خدامة كيخدم المسجل المسجلة "
    "خويا ختي خوها ختها المكفولة المكفول نزيل نزيلة بالمؤسسة مغربي مغربية طالب طالبة موظف "
    "موظفة عامل عاملة مواطن مواطنة المقيمة المقيم ماشي معروف مجهول غير الجدة الحاضنة القانونية "
    "الحضانة أمه امه أمها امها أبيه ابيه مّ فقد تخلت عنه الأستاذة الأستاذ المعلمة المعلم الطبيب "
    "الطبيبة المقدم الجار جارتنا جارنا جارها والسلام نجي نمشي نخلص نشد نقدر نكتب نجيب نسجل "
    "نعرف نديرو بزاف راها راه بحكم أبوها ابوها أبوه ابوه"
)
_NASAB = word_set("بن بنت ولد")
"""``زينب بنت أحمد التازي``: after a first name, "daughter of" is part of the name as the records
write it."""
AR_NAME_PARTICLES = word_set("أيت آيت ايت بن ولد أولاد اولاد بنت أبو ابو")
"""Words after which a cue word is part of a name (``الحسين أيت باها``)."""
AR_LEADING = word_set(
    "الحاج الحاجة المرحوم المرحومة الفقيد الفقيدة السيد السيدة السي ابنتي ابني الصغرى "
    "الكبرى الصغير الكبير الموقع الموقعة أسفله اسفله الراحل الراحلة زوجتي زوجي راجلي مراتي أختي "
    "أخي اختي اخي الطالبة الطالب جدي جدتي الكاملة "
    "موكلتنا موكلنا الموكلة الموكل المواطن المواطنة"
)
"""Words before a name that are not part of it: ``ابنتي المرحومة نادية الصالحي``."""


def trim_arabic(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without the titles before the name (:data:`AR_LEADING`), cut before the first
    stop word (a cue, a preposition, a verb of birth)."""
    first, kept_end, previous = None, None, ""
    for word in re.finditer(r"\S+", text[start:end]):
        token = word.group(0).strip("،,.:")
        if first is None and token in AR_LEADING:
            continue
        if token == "الله" and previous != "عبد":
            break
        stop = token in AR_STOP or (token.startswith("و") and token[1:] in AR_STOP)
        nasab = token in _NASAB and first is not None and previous not in AR_STOP
        if first is not None and token.startswith(("لل", "بال")):
            break  # "للملف", "بالمدرسة": a preposition, no name begins so
        if stop and previous not in AR_NAME_PARTICLES and not nasab:
            break
        previous = token
        if first is None:
            first = start + word.start()
        kept_end = start + word.start() + len(token)
    return (first, kept_end) if first is not None and kept_end is not None else None


LATIN_STOP = word_set(
    "née nee né ne nés le la les l à a au aux en de du des d et and born on in at the of for "
    "my his her its is was est sont mon ma mes son sa ses pere père mere mère father mother "
    "fils fille daughter tzad tzadt tzadit tzadet nhar f fi dyal dial dyali dyalo dyalha li "
    "merci mercie please svp stp thanks thank you extrait acte birth certificate certifcate "
    "copie need je i bghit w o ou or with avec qui who that ana howa hiya smito smitha smiti "
    "c'est c’est name nom urgent bonjour salam hi hello slm needs wants veut besoin has have "
    "doit must will va wa kay khass khasso khassha bgha bghat naissance naissence naissanse "
    "naiss me moi myself she he it they elle il ils elles hia howa homa sakna sakn saken "
    "daba walakin mais but because hit 3la kayn kayna euh uh um ok okay voila voilà date lieu "
    "pere mere père mère motif thx bye mrc bzaf bzf pls ps nee ne tzadit tzadat born borned "
    "pour par sur dans chez passed away died mat matet twfa twffa twfat malade sick was were "
    "are gave got lives live habite sakin ghadi bach 3ndo 3ndha chi wach dad mom mum mama "
    "baba bba bbah bbaha mmha mmah mmo mmu mamti décédé décédée decede decedee mort morte "
    "hospitalisé hospitalisee he's she's it's i'm cuz coz declared déclaré declare notre our "
    "client cliente wahed wa7ed drari dri wlad choukran chokran shokran chokrane merci mrc"
)


def written_in_lower_case(text: str) -> bool:
    """An SMS-style text: fewer than 2 % of its letters are capitals (words with a digit and
    acronyms aside: ``cin dyali WA123456``)."""
    words = [w for w in text.split() if not any(ch.isdigit() for ch in w) and not w.isupper()]
    letters = [ch for ch in "".join(words) if ch.isalpha() and ch.isascii()]
    return len(letters) >= 20 and sum(ch.isupper() for ch in letters) < 0.02 * len(letters)


def overlapping(
    pattern: re.Pattern[str], text: str, start: int, end: int
) -> Iterator[re.Match[str]]:
    """Matches of ``pattern`` that may overlap: the next is looked for from the start of the
    previous one, so a refused ``ف سبيطار الغساني ف`` does not hide ``ف فاس``."""
    position = start
    while (match := pattern.search(text, position, end)) is not None:
        yield match
        position = match.start() + 1
