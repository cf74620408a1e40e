"""Redaction of direct identifiers (CIN, phone numbers, e-mail addresses, IBAN and RIB) in
anything shown to a role that does not need them (auditors, ops).

Each identifier keeps its kind and its last characters, so a reader can tell two apart and match
one they already hold without seeing it: ``AB123456`` becomes ``[CIN …456]``. The patterns aim
at identifiers as people write them in French, Arabic and English text, spaces and dots
included; a false positive hides a number, which is the safe side.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
RIB = re.compile(r"(?<!\d)(?:\d[ .-]?){23}\d(?!\d)")
# A national number (0 then 9 digits) or an international one (+, 00 or a bare 212, then 8 to
# 12 digits), in groups of any size separated by spaces, dots or hyphens.
PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)[1-9]\d{0,2}[ .-]?(?:\(0\)[ .-]?)?|212[ .-]?|[0\u0660\u06f0])"
    r"(?![0\u0660\u06f0])\d(?:[ .-]?\d){7,11}(?!\d)"
)
# One or two letters and 4 to 7 digits; with a space or hyphen between (as people type it),
# upper case and 5 digits or more, so "le 2026" or "BO 2026" stay as they are.
CIN = re.compile(r"(?<![\w])(?:[A-Z]{1,2}\d{4,7}|[a-z]{1,2}\d{5,7}|[A-Z]{1,2}[ -]\d{5,7})(?![\w])")

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", EMAIL),
    ("IBAN", IBAN),
    ("RIB", RIB),
    ("phone", PHONE),
    ("CIN", CIN),
)
IDENTIFIER_FIELDS = {
    "cin": "CIN",
    "phone": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "email": "email",
    "e_mail": "email",
    "iban": "IBAN",
    "rib": "RIB",
}
"""Fields whose whole value is an identifier, whatever it looks like (``applicant.cin``)."""


def _masked(kind: str, text: str) -> str:
    tail = re.sub(r"[\W_]", "", text)[-3:]
    return f"[{kind} …{tail}]"


def _mask(kind: str) -> Callable[[re.Match[str]], str]:
    return lambda match: _masked(kind, match.group(0))


def redact(text: str) -> str:
    """``text`` with every identifier replaced by its kind and last three characters."""
    for kind, pattern in PATTERNS:
        text = pattern.sub(_mask(kind), text)
    return text


def redact_value(value: Any, field: str | None = None) -> Any:
    """:func:`redact` applied to every string inside a JSON value; the value of a field named
    like an identifier (``cin``, ``phone``, ``email``, ``iban``, ``rib``…) is masked whole."""
    kind = _identifier_kind(field)
    if kind and isinstance(value, (str, int)) and not isinstance(value, bool):
        return _masked(kind, str(value))
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(item, field) for item in value]
    if isinstance(value, dict):
        return {key: redact_value(item, key) for key, item in value.items()}
    return value


def _identifier_kind(field: str | None) -> str | None:
    """``phone_number`` and ``contact-email`` name identifiers; ``hotel`` does not."""
    parts = re.split(r"[^a-z]+", (field or "").lower())
    return next((IDENTIFIER_FIELDS[p] for p in parts if p in IDENTIFIER_FIELDS), None)
