"""Dates read by rules: every form the dev set uses, offsets into the text as written."""

from __future__ import annotations

import pytest

from agents.dates import birth_date, find_dates, words_to_number


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("né le 3 mai 2016 à Rabat", "2016-05-03"),
        ("née le 1er janvier 1990", "1990-01-01"),
        ("born on May 3rd, 2016 in Fes", "2016-05-03"),
        ("born on the 3rd of May 2016", "2016-05-03"),
        ("ازداد بتاريخ ١٥/٠٣/٢٠١٠ بفاس", "2010-03-15"),
        ("ازداد يوم 12 غشت 1998 بمراكش", "1998-08-12"),
        ("ولد في 5 تموز 1987", "1987-07-05"),
        ("المزداد بتاريخ 23 يوليوز 1976", "1976-07-23"),
        ("tzad 12 f chhar 3 2015 f Fes", "2015-03-12"),
        ("tzadt f 5 juillet 2001", "2001-07-05"),
        ("née le vingt et un mars mille neuf cent quatre-vingt-dix-huit", "1998-03-21"),
        ("né le trois mai deux mille seize", "2016-05-03"),
        ("date de naissance : 1990-07-22", "1990-07-22"),
        ("né le 08/09/1979 à Oujda", "1979-09-08"),
        ("المزدادة بتاريخ ٢٠١٥/٠٩/٠١.", "2015-09-01"),
        ("المزدادة في الخامس من شهر مارس عام ألف وتسعمائة وخمسة وتسعين بمكناس", "1995-03-05"),
        ("المولود في العاشر من تشرين الأول 2014", "2014-10-10"),
        ("ولد يوم الحادي والعشرين من يوليوز ألفين وعشرين", "2020-07-21"),
        ("ولدي تزاد ف العشرة د شهر خمسة عام 2011", "2011-05-10"),
        ("lwalid tzad f 15 d chhar 6 1955 f Safi", "1955-06-15"),
        ("bnti zdat nhar 9 novembre 2022 f temara", "2022-11-09"),
        ("Anas tzad fatah yanayer 2015 f Fes", "2015-01-01"),
        ("تزاد نهار خمسطاش يونيو ألفين وواحد وعشرين", "2021-06-15"),
        ("من مواليد قلعة السراغنة يوم 7 يوليوز 1985", "1985-07-07"),
        ("tzad nhar tlata f chhar sab3a 2012", "2012-07-03"),
        ("تزاديت نهار 14 فالشهر 2 عام 1998", "1998-02-14"),
        ("تزاد نهار خمسطاش ف شهر جوج 1990", "1990-02-15"),
    ],
)
def test_the_birth_date_is_read_from_the_text(text: str, iso: str) -> None:
    found = birth_date(text)
    assert found is not None and found.iso == iso
    assert any(mention.iso == iso for mention in find_dates(text))


def test_offsets_point_into_the_text_as_written_arabic_indic_digits_included() -> None:
    text = "ازدادت بتاريخ ١٥/٠٣/٢٠١٠ بفاس"
    (mention,) = find_dates(text)
    assert text[mention.start : mention.end] == "١٥/٠٣/٢٠١٠"


def test_a_deadline_or_a_request_date_is_not_the_birth_date() -> None:
    text = "J'en ai besoin avant le 15 juin 2025. Mon fils est né le 3 mars 2019 à Rabat."
    found = birth_date(text)
    assert found is not None and found.iso == "2019-03-03"
    assert birth_date("Fait à Kénitra le 10 janvier 2025, merci.") is None


def test_no_full_date_means_none_never_a_guess() -> None:
    assert birth_date("je suis né en 1998 à Fès") is None
    assert birth_date("ولد في أبريل 1991") is None
    assert find_dates("né le 31/02/2001") == []  # not a calendar date


def test_numbers_in_words() -> None:
    assert words_to_number("quatre-vingt-dix-huit") == 98
    assert words_to_number("deux mille seize") == 2016
    assert words_to_number("twenty-one") == 21
    assert words_to_number("bonjour") is None


def test_a_wedding_or_a_death_date_beside_the_birth_word_is_not_the_birth_date() -> None:
    assert birth_date("howa tzad f Casa. tzewwejna nhar 6/7/2019 ila kan khass chi haja") is None
    married = "تزوجنا في 14 فبراير 2018، ورزقنا بابنتنا سلمى يوم 2 يناير 2020 بمدينة الجديدة"
    found = birth_date(married)
    assert found is not None and found.iso == "2020-01-02"
    died = "والدتي المتوفاة في 3 كانون الثاني 2023، وهي مولودة في الخامس من آذار عام 1950"
    found = birth_date(died)
    assert found is not None and found.iso == "1950-03-05"


def test_arabic_and_darija_numbers_in_words() -> None:
    assert words_to_number("ألف وتسعمائة وخمسة وتسعين") == 1995
    assert words_to_number("ألفين وعشرين") == 2020
    assert words_to_number("الحادي والعشرين") == 21
    assert words_to_number("sab3a") == 7


def test_a_birth_word_inside_another_word_is_not_a_death() -> None:
    """The Darija "mat" (died) is a word of its own, not the start of "maternité"."""
    mention = birth_date("née le 1er décembre 2020 à la maternité de Fès")
    assert mention is not None and mention.iso == "2020-12-01"
