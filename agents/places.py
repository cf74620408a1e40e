"""Moroccan places as citizens write them, to tell a place of birth from a word after "in".

Most requests name a town of the kingdom, often in lower case or in a short form (``casa``,
``tanja``, ``f beni mellal``, ``بالرباط``). Extraction reads a place after a birth word and a
preposition; where the place is not capitalised, or the preposition could introduce anything
(``في الحصول على…``, ``born in August``), a known place is what makes it a place. An unknown
capitalised place is still read (a village, a foreign city): this list only adds certainty.
"""

from __future__ import annotations

from agents.folding import ARABIC_LETTER_VARIANTS

_LATIN = """
casablanca casa rabat sale salé sala tanger tangier tanja tanjah fes fès fez meknes meknès
marrakech marrakesh marrakch agadir oujda wajda kenitra kénitra tetouan tétouan tetuan titwan
nador el_jadida jadida jdida safi asfi beni_mellal khouribga settat berrechid mohammedia
temara témara tmara larache laraeche ksar_el_kebir ksar_lekbir taza errachidia rachidia
ouarzazate tiznit taroudant taroudannt guelmim laayoune laâyoune dakhla essaouira souira
al_hoceima hoceima el_hoceima berkane sidi_kacem sidi_slimane sidi_bennour khemisset khenifra
khénifra azrou ifrane midelt taourirt figuig zagora tinghir tinghir chefchaouen chaouen
ouezzane wazzan asilah assilah fnideq mdiq martil skhirat bouznika benslimane youssoufia
kelaa_des_sraghna el_kelaa azilal demnate tan-tan tantan sefrou guercif jerada boujdour smara
inezgane ait_melloul dcheira oulad_teima ben_guerir benguerir chichaoua taounate missour
boulemane sidi_ifni ifni tata akka goulmima tinejdad erfoud rissani ouazzane souk_larbaa
mechra_bel_ksiri sidi_yahya had_soualem tit_mellil bouskoura nouaceur deroua ain_harrouda
mediouna ain_sebaa sidi_moumen hay_mohammadi oued_zem boujad fkih_ben_salah kasba_tadla
el_hajeb imouzzer ain_taoujdate moulay_idriss zerhoun ain_chock tabriquet
"""

_ARABIC = """
الدار_البيضاء البيضاء كازا الرباط سلا طنجة فاس مكناس مراكش أكادير اكادير وجدة القنيطرة
تطوان الناظور الجديدة آسفي اسفي بني_ملال خريبكة سطات برشيد المحمدية تمارة العرائش
القصر_الكبير تازة الرشيدية ورزازات تيزنيت تارودانت كلميم العيون الداخلة الصويرة الحسيمة
بركان سيدي_قاسم سيدي_سليمان سيدي_بنور الخميسات خنيفرة أزرو إفران ميدلت تاوريرت فكيك
زاكورة تنغير شفشاون وزان أصيلة اصيلة الفنيدق المضيق مرتيل الصخيرات بوزنيقة بنسليمان
اليوسفية قلعة_السراغنة أزيلال دمنات طانطان صفرو جرسيف جرادة بوجدور السمارة إنزكان
أيت_ملول الدشيرة أولاد_تايمة ابن_جرير بنجرير شيشاوة تاونات ميسور بولمان سيدي_إفني طاطا
وادي_زم أبي_الجعد الفقيه_بن_صالح قصبة_تادلة الحاجب إيموزار سوق_الأربعاء تيفلت الخنيشات
"""


_FOLD = str.maketrans(dict(ARABIC_LETTER_VARIANTS.items()))


def _fold(text: str) -> str:
    return " ".join(text.lower().translate(_FOLD).split())


PLACES: frozenset[str] = frozenset(
    _fold(name.replace("_", " ")) for name in (_LATIN + _ARABIC).split()
)
LONGEST = max(len(place.split()) for place in PLACES)


def known_place(words: list[str]) -> int:
    """How many of ``words`` (from the first) make a known place: 0 when none do."""
    for size in range(min(LONGEST, len(words)), 0, -1):
        if _fold(" ".join(words[:size])) in PLACES:
            return size
    return 0
