"""The languages citizens write in, the languages idara replies in, and a light detector.

A request is *written* in French, Arabic, English, or Moroccan Darija in Arabic script (``ary``)
or in Latin script (``ary-Latn``, the "arabizi" many citizens type: ``3afak bghit l'extrait``).
Letters go out in one of the three *reply* languages; Darija requests get Arabic by default.

The detector is a few lines of script and marker words, not a model: it only has to be right
often enough to pick a reply language and to report figures per language. Routing never
depends on it (the example bank is searched across languages), so a wrong guess costs little.
"""

from __future__ import annotations

import re

REPLY_LANGUAGES = ("fr", "ar", "en")
"""Languages of the letters, the web interface and the prompts' language names."""
WRITTEN_LANGUAGES = ("fr", "ar", "en", "ary", "ary-Latn")
"""Languages a request may be written in (BCP 47: ``ary`` is Moroccan Arabic)."""
DEFAULT_REPLY = {"fr": "fr", "ar": "ar", "en": "en", "ary": "ar", "ary-Latn": "ar"}


def word_set(text: str) -> frozenset[str]:
    """The words of ``text``: lists of marker words are written as one string."""
    return frozenset(text.split())


_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_FRENCH_WORDS = word_set(
    "le la les des une du et je vous nous pour avec dans est sur mon ma mes votre demande "
    "monsieur madame bonjour merci suis au aux pas que qui une svp il elle ce cette "
    "depuis mais ou notre nos leur j'ai c'est d'un d'une l'acte"
)
_ENGLISH_WORDS = word_set(
    "the and i you we for with in is on my your request dear hello thank am to of please "
    "would like have has can how what when where our this that it be not an"
)
# Darija written in Arabic script: words Modern Standard Arabic does not use this way.
_DARIJA_ARABIC = word_set(
    "بغيت بغينا نبغي كنبغي ديال ديالي ديالنا ديالو ديالها واش كيفاش فين شنو شنوا اشنو "
    "علاش دابا بزاف راه راني راك حيت مزيان عافاك عفاك خاصني خاصنا خصني ماشي هاد هادي هادا "
    "هداك والو شي باش كاين كاينة كاينين كيف بحال غادي غير ماكاينش مابغاوش ليا لينا عندي "
    "عندنا خويا ختي واخا ولدي بنتي دغيا صافي كنعرف نعرف نقدر ندير نديرو سير جيت مشيت قالو "
    "قاليا كيقولو كتب كيخلصو نخلص كنخلص ماعرفتش ماعرفت مكاينش بلا"
)
# Darija written in Latin script: marker words (spelling varies, so several forms each).
_DARIJA_LATIN = word_set(
    "bghit bghyt bghina nbghi kanbghi dyal dyali diali dial dyalna dyalo wach wash kifach "
    "kifash fin fine feen chno achno chnou ach 3lach alach daba bzaf bezaf rah rani rak "
    "hit 7it mzyan mezyan 3afak afak 3fak khasni khassni khasna khsni machi mashi had "
    "hadi hada hadchi walo chi shi bach kayn kayna kaynin b7al ghadi ghir makaynch liya "
    "lina 3andi 3ndi andi khouya khoya khti wakha weldi bnti salam slm sbah lkhir m3a "
    "m3ak ila wla ta3 dyalha nkhlas nkhales nsajel ndir ndiro n9der nqder kan9lab 9raya "
    "l9raya lmostawsaf sbitar mra mrati rajli ana nta nti ntoma ma3raftch ma3reftch 3tini "
    "3tiwni bghaw kaychedo kaytalbo 9bel mn fach"
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_ARABIZI_DIGIT = re.compile(r"[a-z][2379]|[2379][a-z]")


def arabic_share(text: str) -> float:
    """Share of letters in ``text`` that are Arabic script."""
    letters = _LETTER.findall(text)
    if not letters:
        return 0.0
    return sum(1 for ch in letters if _ARABIC.match(ch)) / len(letters)


def detect_language(text: str) -> str:
    """Best guess among ``WRITTEN_LANGUAGES``: script first, then marker words."""
    words = [word.lower() for word in _WORD.findall(text)]
    if arabic_share(text) > 0.3:
        darija = sum(1 for word in words if _strip_arabic_prefix(word) in _DARIJA_ARABIC)
        return "ary" if darija >= 1 and darija / max(len(words), 1) >= 0.04 else "ar"
    french = sum(1 for word in words if word in _FRENCH_WORDS)
    english = sum(1 for word in words if word in _ENGLISH_WORDS)
    darija = sum(1 for word in words if word in _DARIJA_LATIN)
    darija += sum(1 for word in words if _ARABIZI_DIGIT.search(word) and not word.isdigit())
    if darija >= 2 and darija >= 0.6 * max(french, english):
        return "ary-Latn"
    return "fr" if french > english else "en"


def reply_language(written: str, asked: str | None = None) -> str:
    """The language of the letters: the one asked for, else the written language's default."""
    if asked:
        return asked
    return DEFAULT_REPLY.get(written, "fr")


def _strip_arabic_prefix(word: str) -> str:
    """``والو`` and ``وبغيت``: a leading conjunction does not hide a marker word."""
    if word not in _DARIJA_ARABIC and len(word) > 3 and word[0] in "وف":
        return word[1:]
    return word
