"""What an auditor is shown of a citizen's identifiers: the kind and the last three characters,
in French, Arabic and English text; ordinary numbers stay readable."""

from __future__ import annotations

import pytest

from agents.guards.pii import redact, redact_value


@pytest.mark.parametrize(
    ("text", "shown", "hidden"),
    [
        ("CIN BE123456, merci", "[CIN …456]", "BE123456"),
        ("رقم البطاقة الوطنية AB 654321", "[CIN …321]", "654321"),
        ("tél. 06 12 34 56 78", "[phone …678]", "06 12 34 56 78"),
        ("call +212 6 12 34 56 78 today", "[phone …678]", "+212"),
        ("الهاتف 0522123456", "[phone …456]", "0522123456"),
        ("écrire à amina.b@example.ma svp", "[email …", "amina.b@example.ma"),
        ("IBAN MA64 0110 0000 0000 0123 4567 8901", "[IBAN …901]", "4567 8901"),
        ("RIB 011 780 0000123456789012 34", "[RIB …234]", "0000123456789012"),
    ],
)
def test_identifiers_are_masked_to_their_kind_and_last_characters(
    text: str, shown: str, hidden: str
) -> None:
    redacted = redact(text)
    assert shown in redacted
    assert hidden not in redacted


def test_ordinary_numbers_dates_and_references_stay_readable() -> None:
    text = "Article 7 : 25 m², délai 30 jours, le 2026-11-23, dossier IDR-20261123-1A2B3C4D"
    assert redact(text) == text


def test_every_string_inside_a_json_value_is_masked() -> None:
    value = {"fields": {"cin": "AB123456", "ages": [34]}, "notes": ["tel 0612345678"]}
    assert redact_value(value) == {
        "fields": {"cin": "[CIN …456]", "ages": [34]},
        "notes": ["tel [phone …678]"],
    }


@pytest.mark.parametrize(
    "phone", ["+212 612 345 678", "0612 345 678", "212612345678", "05 22 123 456"]
)
def test_phone_numbers_in_any_grouping_are_masked(phone: str) -> None:
    assert redact(f"joignable au {phone}.").startswith("joignable au [phone …")


@pytest.mark.parametrize("cin", ["ab123456", "AB-123456", "J45678"])
def test_cin_in_lower_case_or_with_a_hyphen_is_masked(cin: str) -> None:
    assert redact(f"CIN {cin}") == f"CIN [CIN …{cin[-3:]}]"


def test_a_field_named_like_an_identifier_is_masked_whole() -> None:
    value = {"cin": "x1", "phone_number": 612345678, "contact-email": "a@b", "hotel": "Atlas"}
    assert redact_value(value) == {
        "cin": "[CIN …x1]",
        "phone_number": "[phone …678]",
        "contact-email": "[email …ab]",
        "hotel": "Atlas",
    }


def test_identifiers_written_in_arabic_indic_digits_are_masked() -> None:
    text = "الهاتف ٠٦١٢٣٤٥٦٧٨ والبطاقة AB ١٢٣٤٥٦، سنة ٢٠٢٦"
    assert redact(text) == "الهاتف [phone …٦٧٨] والبطاقة [CIN …٤٥٦]، سنة ٢٠٢٦"
