"""Every extracted value points at the request; what does not is dropped, never shown."""

from __future__ import annotations

import pytest

from agents.classify import decide_label
from agents.evidence import locate, span_of, verify
from agents.extraction import cue_spans, with_evidence

TEXT = "Bonjour, je demande l'extrait de mon fils Youssef Alami, né le 3 mai 2016 à Fès."
KINDS = {"person_name": "text", "date_of_birth": "date", "place_of_birth": "text"}
KINDS_WITH_PARENT = {**KINDS, "mother_name": "text"}


def test_locate_matches_whole_words_whatever_the_case_and_accents() -> None:
    assert locate("youssef alami", TEXT) == (42, 55)
    assert locate("Fes", TEXT) == (TEXT.index("Fès"), TEXT.index("Fès") + 3)
    assert locate("Ala", TEXT) is None  # part of a word is not evidence
    arabic = "ازداد بمدينة مراكش"
    start, end = locate("مراكش", arabic) or (0, 0)
    assert arabic[start:end] == "مراكش"
    assert locate("سلا", "السلام عليكم") is None


def test_the_agent_keeps_what_it_finds_and_drops_what_the_model_made_up() -> None:
    proposed = {
        "person_name": "youssef alami",
        "date_of_birth": "3102-04-07",
        "place_of_birth": "Paris",
        "mother_name": "Fatima Zahra",
    }
    output, notes = with_evidence(proposed, TEXT, KINDS_WITH_PARENT)
    assert output["person_name"] == "Youssef Alami"  # as written in the request
    assert output["date_of_birth"] == "2016-05-03"  # the parser's, not the model's
    assert output["place_of_birth"] == "Fès"  # "né … à Fès" says it, not the model
    assert output["evidence"]["place_of_birth"]["by"] == "cue"
    assert output["mother_name"] is None
    assert output["evidence"]["mother_name"]["dropped"] == "Fatima Zahra"
    assert output["evidence"]["person_name"]["quote"] == "Youssef Alami"
    assert any("Fatima Zahra" in note for note in notes)


def test_cues_read_each_fact_where_the_request_introduces_it() -> None:
    text = (
        "السلام عليكم، أطلب نسخة من رسم ولادة ابني آدم الإدريسي، المزداد بتاريخ ١٥/٠٣/٢٠١٠ "
        "بمدينة الرباط. والده محمد الإدريسي ووالدته سعاد العلوي."
    )
    found = {field: text[a:b] for field, (a, b) in cue_spans(text).items()}
    assert found == {
        "person_name": "آدم الإدريسي",
        "place_of_birth": "الرباط",
        "father_name": "محمد الإدريسي",
        "mother_name": "سعاد العلوي",
    }
    latin = "salam bghit l'extrait dyal weldi Anouar, tzad f Agadir, bah Yassir Fikri"
    found = {field: latin[a:b] for field, (a, b) in cue_spans(latin).items()}
    assert found["person_name"] == "Anouar" and found["place_of_birth"] == "Agadir"
    assert found["father_name"] == "Yassir Fikri" and "mother_name" not in found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Ses parents étaient Abdelkader Tazi et Zineb Bennis. Il est né à Fès.",
            {
                "father_name": "Abdelkader Tazi",
                "mother_name": "Zineb Bennis",
                "place_of_birth": "Fès",
            },
        ),
        (
            "a copy for my wife Nora Benkirane, daughter of Jalil Benkirane and Souad Tber",
            {
                "person_name": "Nora Benkirane",
                "father_name": "Jalil Benkirane",
                "mother_name": "Souad Tber",
            },
        ),
        (
            "Bonjour, je demande un extrait pour ma mère, Mme Aicha Bouzid, née vers 1952 à Taza.",
            {"person_name": "Aicha Bouzid", "place_of_birth": "Taza"},
        ),
        (
            "I was born in Essaouira. My name is Latifa Hajji and my mother is Mina Chafik.",
            {
                "person_name": "Latifa Hajji",
                "mother_name": "Mina Chafik",
                "place_of_birth": "Essaouira",
            },
        ),
        (
            "hi i need birth certifcate of me, my name is yassine benomar, i was born 07/12/2000 "
            "in meknes. my fathers name is brahim",
            {"person_name": "yassine benomar", "father_name": "brahim", "place_of_birth": "meknes"},
        ),
        (
            "عقد ازدياد والدتي المرحومة زهرة الفاسي، وهي مولودة في فاس، "
            "بنت أحمد الفاسي وفاطمة الشرقاوي.",
            {
                "person_name": "زهرة الفاسي",
                "place_of_birth": "فاس",
                "father_name": "أحمد الفاسي",
                "mother_name": "فاطمة الشرقاوي",
            },
        ),
        (
            "الازدياد ديال ولدي يونس بن موسى، مزيود 06/05/2010 ف الرشيدية",
            {"person_name": "يونس بن موسى", "place_of_birth": "الرشيدية"},
        ),
        (
            "سلام، ولدي ريان بنعمر تزاد نهار 9 شتنبر 2018، بغيت نسجلو ف المدرسة.",
            {"person_name": "ريان بنعمر"},
        ),
    ],
)
def test_cues_in_the_ways_citizens_name_people_and_places(
    text: str, expected: dict[str, str]
) -> None:
    found = {field: text[a:b] for field, (a, b) in cue_spans(text).items()}
    assert found == expected


def test_the_control_plane_refuses_a_span_that_does_not_hold_the_value() -> None:
    forged = {
        "person_name": "Karim Tazi",
        "date_of_birth": "2016-05-03",
        "place_of_birth": "Fès",
        "evidence": {
            "person_name": {"start": 42, "end": 55},  # the span holds Youssef Alami
            "date_of_birth": span_of("2016-05-03", TEXT, "date"),
            "place_of_birth": {"start": 10, "end": 900},  # outside the request
        },
    }
    checked, notes = verify(forged, TEXT, KINDS)
    assert checked["person_name"] is None and checked["place_of_birth"] is None
    assert checked["date_of_birth"] == "2016-05-03"
    assert checked["evidence"]["person_name"]["dropped"] == "Karim Tazi"
    assert len(notes) == 2
    unclaimed, _ = verify({"person_name": "Youssef Alami"}, TEXT, {"person_name": "text"})
    assert unclaimed["person_name"] is None  # no span given: no fact


def test_the_examples_vote_decides_and_the_model_answer_is_kept_as_evidence() -> None:
    examples = [
        {"id": 1, "text": "a", "label": "health", "language": "fr", "score": 0.6},
        {"id": 2, "text": "b", "label": "health", "language": "ar", "score": 0.5},
        {"id": 3, "text": "c", "label": "taxation", "language": "fr", "score": 0.4},
    ]
    label, evidence = decide_label("civil_status", examples, model_weight=0.0)
    assert label == "health" and evidence["model"] == "civil_status"
    assert evidence["method"] == "vote" and evidence["neighbours"][0]["id"] == 1
    label, _ = decide_label("taxation", examples, model_weight=0.9)
    assert label == "taxation"
    label, evidence = decide_label("other", [], model_weight=0.0)
    assert label == "other" and evidence["method"] == "model"


def test_the_label_scores_can_outweigh_two_close_neighbours() -> None:
    examples = [
        {"id": 1, "text": "a", "label": "health", "language": "fr", "score": 0.5},
        {"id": 2, "text": "b", "label": "taxation", "language": "fr", "score": 0.45},
    ]
    scores = {"taxation": 1.0, "health": 0.4, "other": 0.2}
    label, _ = decide_label(None, examples, 0.0, scores, centroid_weight=0.0)
    assert label == "health"
    label, evidence = decide_label(None, examples, 0.0, scores, centroid_weight=0.3)
    assert label == "taxation" and evidence["method"] == "vote+labels"
    assert evidence["labels"] == {"taxation": 1.0, "health": 0.4, "other": 0.2}


@pytest.mark.parametrize(
    ("text", "relationship", "expected"),
    [
        (
            "Bonjour, l'extrait de ma fille Hiba, née à Safi. Ma femme Salma Tazi viendra.",
            "parent",
            {"person_name": "Hiba", "mother_name": "Salma Tazi", "place_of_birth": "Safi"},
        ),
        (
            "We write on behalf of our client, Ms. Nora Alami, born in Fes. Her brother Ali "
            "Alami will collect it.",
            "self",
            {"person_name": "Nora Alami", "place_of_birth": "Fes"},
        ),
        (
            "Ma mère, Mme Itto Ouali, ne peut plus marcher ; elle est née à Azilal.",
            "child",
            {"person_name": "Itto Ouali", "place_of_birth": "Azilal"},
        ),
        (
            "the birth certificate of my wife, Hajar Idrissi, daughter of Mrs. Amina Lahlou",
            "spouse",
            {"person_name": "Hajar Idrissi", "mother_name": "Amina Lahlou"},
        ),
        (
            "Je suis Karim Bennis, je demande l'extrait de mon fils Adam, ma femme est à "
            "l'étranger.",
            "parent",
            {"person_name": "Adam", "father_name": "Karim Bennis"},
        ),
        (
            "أنا سميرة العلوي، ساكنة ف سلا، بغيت عقد الازدياد ديال بنتي مريم",
            "parent",
            {"person_name": "مريم", "mother_name": "سميرة العلوي"},
        ),
        (
            "À Monsieur le Président de la commune. Je suis née à Oujda, mon père : Ali Saidi.",
            "self",
            {"father_name": "Ali Saidi", "place_of_birth": "Oujda"},
        ),
    ],
)
def test_the_forms_relationship_says_whose_name_is_whose(
    text: str, relationship: str, expected: dict[str, str]
) -> None:
    """The form's ``relationship`` decides what a kin word names: a mother's "my wife" does
    not exist, a father's "ma femme" names the mother, a child's "ma mère" the person."""
    found = {field: text[a:b] for field, (a, b) in cue_spans(text, relationship).items()}
    assert found == expected


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("née le 2 mai 1999 à l'hôpital Hassan II d'Agadir", "Agadir"),
        ("il et ne le 2 fevrier 2001 a casa il et a letranger", "casa"),
        ("bnti zdat nhar 9/11/2022 f sbitar dyal temara", "temara"),
        ("pour le mariage le 20 août à Agadir, moi je suis née en 1994 à Taroudant", "Taroudant"),
        ("tzad f 1949 f ouled frej, bbah smitou bouazza", "ouled frej"),
        ("تزادت ف ١٤/٠٢/٢٠٠٨ ف سبيطار الغساني ف فاس.", "فاس"),
        ("من مواليد مدينة مكناس بتاريخ 20/06/1987", "مكناس"),
        ("وهي مزدادة حوالي سنة 1950 بدوار أولاد بوعزة التابع لجماعتكم", "دوار أولاد بوعزة"),
    ],
)
def test_a_place_of_birth_and_not_a_hospital_a_wedding_or_a_month(text: str, place: str) -> None:
    start, end = cue_spans(text)["place_of_birth"]
    assert text[start:end] == place


def test_no_place_where_the_request_names_only_where_one_lives_now() -> None:
    text = "tzad nhar 9 mai 1986 w houwa daba f Italia khdam"
    assert "place_of_birth" not in cue_spans(text)


def test_the_applicants_own_name_is_not_the_person_when_the_form_says_they_are_the_parent() -> None:
    text = "Je demande l'extrait de naissance au nom de Karim Bennis, né à Fès."
    assert "person_name" in cue_spans(text, "self", "Karim Bennis")
    assert "person_name" not in cue_spans(text, "parent", "KARIM  Bennis")
