"""Lexical retrieval over a classification step's example bank: no model, no network.

Citizens write the same request in five ways (French, English, Arabic, Darija in Arabic script,
Darija in Latin script) and spell each one freely. Two things make a small bank reach them:

- :func:`normalise` folds spelling variation: case, Latin accents, Arabic diacritics, tatweel
  and letter variants (أ إ آ → ا, ة → ه, ى → ي, گ → ك), Arabic-Indic digits, and in Latin
  script the arabizi digits (3 → a for ع, 7 → h, 9 → q, 2 → a) and doubled letters, so
  ``l9raya``, ``lqraya`` and ``lqrayya`` meet.
- :class:`LexicalIndex` weighs character n-grams within words (3 to 5, TF-IDF, cosine), which
  match across inflections, prefixes (``بالمستشفى``, ``lmostawsaf``) and French loanwords
  shared by Darija and French (``la carte grise``), plus whole words.

The index searches every language at once: the request's detected language only breaks ties,
so a wrong detection does not sink the routing.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agents.folding import ARABIC_LETTER_VARIANTS, EASTERN_DIGITS

_ARABIC_DIACRITICS = re.compile("[\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLD = str.maketrans(
    {
        **ARABIC_LETTER_VARIANTS,
        "ٱ": "ا",
        "ؤ": "و",
        "ئ": "ي",
        "گ": "ك",
        "ڭ": "ك",
        "ک": "ك",
        "ڤ": "ف",
        "ی": "ي",
        **EASTERN_DIGITS,
    }
)
_ARABIZI = {"3": "a", "7": "h", "9": "q", "2": "a", "5": "kh", "8": "h"}
_LATIN_WORD_WITH_DIGIT = re.compile(r"[a-z]*[2357-9][a-z0-9]*|[0-9]*[a-z]+[2357-9][a-z0-9]*")
_DOUBLED = re.compile(r"([a-z])\1+")
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """``text`` folded for matching: see the module's docstring."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLD)
    text = "".join(
        ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn"
    )
    text = _LATIN_WORD_WITH_DIGIT.sub(_arabizi_word, text)
    text = _DOUBLED.sub(r"\1", text)
    return " ".join(_TOKEN.findall(text))


def _arabizi_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.isdigit() or not any(ch.isalpha() for ch in word):
        return word
    return "".join(_ARABIZI.get(ch, ch) for ch in word)


def features(text: str, low: int = 3, high: int = 5, words: bool = True) -> Counter[str]:
    """Character n-grams of each word padded with spaces (``" lq"``…), and the words."""
    counts: Counter[str] = Counter()
    for word in normalise(text).split():
        padded = f" {word} "
        for size in range(low, high + 1):
            for start in range(0, max(len(padded) - size + 1, 1)):
                counts[padded[start : start + size]] += 1
        if words and len(word) > 1:
            counts["w:" + word] += 1
    return counts


def raw_char_features(text: str, low: int = 3, high: int = 5) -> Counter[str]:
    """Plain character n-grams of the lower-cased text, nothing folded: the baseline's."""
    text = f" {' '.join(text.lower().split())} "
    counts: Counter[str] = Counter()
    for size in range(low, high + 1):
        for start in range(len(text) - size + 1):
            counts[text[start : start + size]] += 1
    return counts


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    language: str
    id: int | None = None


@dataclass(frozen=True)
class Neighbour:
    example: Example
    score: float


class LexicalIndex:
    """TF-IDF (sublinear tf, smoothed idf) over ``examples``; cosine similarity."""

    def __init__(self, examples: Sequence[Example], featurise: object = None) -> None:
        self.examples = list(examples)
        self._featurise = featurise if callable(featurise) else features
        docs = [self._featurise(example.text) for example in self.examples]
        frequency: Counter[str] = Counter()
        for doc in docs:
            frequency.update(doc.keys())
        total = len(docs)
        self.idf = {
            term: math.log((1 + total) / (1 + count)) + 1.0 for term, count in frequency.items()
        }
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for index, doc in enumerate(docs):
            for term, weight in self._weigh(doc).items():
                self._postings[term].append((index, weight))
                sums[self.examples[index].label][term] += weight
        self._centroids = {label: _unit(terms) for label, terms in sums.items()}

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        weights = {
            term: (1.0 + math.log(count)) * self.idf[term]
            for term, count in counts.items()
            if term in self.idf
        }
        norm = math.sqrt(sum(value * value for value in weights.values())) or 1.0
        return {term: value / norm for term, value in weights.items()}

    def label_scores(self, text: str) -> dict[str, float]:
        """Each label's cosine with the centroid of all its examples, divided by the best one's
        (the best label scores 1): where a few close neighbours can mislead the vote, every
        example of a label speaks."""
        query = self._weigh(self._featurise(text))
        scores = {
            label: sum(weight * centroid.get(term, 0.0) for term, weight in query.items())
            for label, centroid in self._centroids.items()
        }
        best = max(scores.values(), default=0.0)
        if best <= 0:
            return {}
        return {label: round(score / best, 4) for label, score in sorted(scores.items())}

    def search(self, text: str, k: int, language: str | None = None) -> list[Neighbour]:
        """The ``k`` most similar examples, best first (ties: the same language first)."""
        scores: dict[int, float] = defaultdict(float)
        for term, weight in self._weigh(self._featurise(text)).items():
            for index, doc_weight in self._postings.get(term, ()):
                scores[index] += weight * doc_weight
        ranked = sorted(
            scores.items(),
            key=lambda item: (-item[1], self.examples[item[0]].language != language, item[0]),
        )
        return [Neighbour(self.examples[index], round(score, 4)) for index, score in ranked[:k]]


def _unit(weights: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(value * value for value in weights.values())) or 1.0
    return {term: value / norm for term, value in weights.items()}


def vote(neighbours: Iterable[Neighbour], power: float = 2.0) -> dict[str, float]:
    """Each label's share of the neighbours' similarity (raised to ``power``, so the closest
    examples count most); shares add up to 1, or the dict is empty."""
    totals: dict[str, float] = defaultdict(float)
    for neighbour in neighbours:
        totals[neighbour.example.label] += neighbour.score**power
    whole = sum(totals.values())
    if whole <= 0:
        return {}
    return {label: round(value / whole, 4) for label, value in totals.items()}
