"""Lexical retrieval over an example bank, across scripts and spellings."""

from __future__ import annotations

from agents.retrieval import Example, LexicalIndex, Neighbour, normalise, vote

BANK = [
    Example("bghit nbddl la carte grise dyal tomobil", "transport", "ary-Latn", 1),
    Example("Je voudrais un extrait d'acte de naissance pour mon fils", "civil_status", "fr", 2),
    Example("بغيت نسجل ولدي فالمدرسة", "education", "ary", 3),
    Example("l9raya dyal weldi, fin nsajlo?", "education", "ary-Latn", 4),
    Example("Les rats envahissent notre rue depuis que les égouts débordent", "health", "fr", 5),
]


def test_normalise_folds_arabizi_digits_accents_and_arabic_variants() -> None:
    assert normalise("L9RAYA") == normalise("lqrayya") == normalise("lqraya")
    assert normalise("Égouts débordent") == "egouts debordent"
    assert normalise("إلى المدرسةِ") == normalise("الى المدرسه")
    assert normalise("٢٠١٦") == "2016"


def test_search_finds_the_same_request_in_another_spelling() -> None:
    index = LexicalIndex(BANK)
    (best, *_) = index.search("bghyt nbedel lcarte grise", 3)
    assert best.example.label == "transport"
    (best, *_) = index.search("lqraya dial weldi", 3)
    assert best.example.id == 4
    (best, *_) = index.search("extrait de naissance svp", 3)
    assert best.example.label == "civil_status"


def test_search_spans_languages_so_a_wrong_language_guess_does_not_matter() -> None:
    index = LexicalIndex(BANK)
    for language in ("fr", "ar", "en", None):
        assert index.search("نسجل ولدي فالمدرسة", 1, language)[0].example.id == 3


def test_vote_weighs_the_closest_examples_most() -> None:
    neighbours = [
        Neighbour(Example("a", "health", "fr"), 0.8),
        Neighbour(Example("b", "other", "fr"), 0.4),
        Neighbour(Example("c", "other", "fr"), 0.4),
    ]
    shares = vote(neighbours)
    assert max(shares, key=lambda label: shares[label]) == "health"
    assert abs(sum(shares.values()) - 1) < 1e-3
    assert vote([]) == {}


def test_label_scores_weigh_every_example_of_a_label() -> None:
    index = LexicalIndex(BANK)
    scores = index.label_scores("fin nsajel bnti f l'école, l9raya bdat")
    assert max(scores, key=lambda label: scores[label]) == "education"
    assert max(scores.values()) == 1.0 and set(scores) <= {e.label for e in BANK}
    assert index.label_scores("") == {}
