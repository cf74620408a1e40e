"""Extraction that never invents: each value is tied to the span of the request it came from.

Values are read first where the request's own words introduce them (:func:`cue_spans`): the
people by :mod:`agents.name_cues` (``sa mère : Nadia El Fassi``, ``والده محمد الإدريسي``,
``bbah smitou Ahmed``, read by the applicant's relationship to the person, which the form
asks), the place by :mod:`agents.place_cues` (``tzad f casa``, ``بمدينة وجدة``, a known place
of :mod:`agents.places`). A fact no cue introduces may come from the model's answer, kept only
where the agent can point at it in the request (:func:`agents.evidence.span_of`). Dates are
read by the rule-based parser (:mod:`agents.dates`), never from the model. What it cannot point
at is dropped and flagged. The control plane checks the spans again
(:func:`agents.evidence.verify`) before storing.
"""

from __future__ import annotations

from typing import Any

from agents.dates import birth_date, find_dates
from agents.evidence import EVIDENCE, folded, quoted, span_of
from agents.name_cues import person_spans
from agents.place_cues import place_of_birth


def with_evidence(
    proposed: dict[str, Any],
    text: str,
    kinds: dict[str, str],
    model_fallback: bool = False,
    relationship: str | None = None,
    applicant: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """``proposed`` (the model's answer) with only the values found in ``text``, and notes.

    ``model_fallback`` (the step's ``params: {model_fallback: "true"}``): a text value no cue
    found may be the model's, where the agent finds it in the request. Off by default: on the
    tune split with the embedded 135M model it added 2 correct values and 7 invented ones (the
    request's opening line as a name, the signer as the mother; docs/evaluation.md). Turn it
    on for a larger model once ``idara eval --model`` shows it helps. ``relationship`` is the
    applicant's to the person, as the form asks it, ``applicant`` the applicant's full name
    (:func:`cue_spans`)."""
    output = dict(proposed)
    evidence: dict[str, Any] = {}
    notes: list[str] = []
    cues = cue_spans(text, relationship, applicant)
    for field, kind in kinds.items():
        value = output.get(field)
        if kind == "date":
            mention = birth_date(text) if field == "date_of_birth" else _only_date(text)
            if mention is not None:
                output[field] = mention.iso
                evidence[field] = quoted(mention.start, mention.end, text)
                if value and value != mention.iso:
                    notes.append(
                        f"{field}: {mention.iso} read from the request, not the model's {value}"
                    )
                continue
            output[field] = None
            if value:
                evidence[field] = {"dropped": value, "reason": "no such date in the request"}
                notes.append(f"{field}: the model's {value!r} dropped: no such date in the request")
            continue
        if field in cues:
            start, end = cues[field]
            output[field] = text[start:end]
            evidence[field] = {**quoted(start, end, text), "by": "cue"}
            continue
        span = span_of(value, text) if model_fallback and _plausible(value) else None
        if span is not None:
            output[field] = text[span["start"] : span["end"]]
            evidence[field] = {**span, "by": "model"}
        elif isinstance(value, str) and value.strip():
            output[field] = None
            if not model_fallback:
                reason = (
                    "no words of the request introduce it; the model's answer alone is not kept"
                )
            elif span_of(value, text) is None:
                reason = "not written in the request"
            else:
                reason = "not a name or a place"
            evidence[field] = {"dropped": value, "reason": reason}
            notes.append(f"{field}: the model's {value!r} dropped: {reason}")
        else:
            output[field] = None
    output[EVIDENCE] = evidence
    return output, notes


def _same_name(one: str, other: str) -> bool:
    """Equal once case, accents and spacing are set aside (the evidence's own fold)."""
    return folded(one)[0].split() == folded(other)[0].split()


def _plausible(value: Any) -> bool:
    """A name or a place: one to five words, no digit, no line break, no comma."""
    return (
        isinstance(value, str)
        and 0 < len(value.split()) <= 5
        and not any(ch.isdigit() or ch in "\n,;:" for ch in value)
    )


def _only_date(text: str) -> Any:
    mentions = find_dates(text)
    return mentions[0] if len(mentions) == 1 else None


_NOT_THE_APPLICANT = {
    "person_name": {"parent", "spouse", "child"},
    "father_name": {"self", "spouse", "child"},
    "mother_name": {"self", "spouse", "child"},
}
"""Where the applicant's own name cannot stand, by their relationship to the person: a mother
is not her child, a spouse not a parent of the person."""


def cue_spans(
    text: str, relationship: str | None = None, applicant: str | None = None
) -> dict[str, tuple[int, int]]:
    """Where each fact is introduced by its words: the people (:mod:`agents.name_cues`, by the
    applicant's ``relationship`` to the person, from the form) and the place of birth
    (:mod:`agents.place_cues`). A name that is the applicant's, where their relationship says
    it cannot be (the writer's signature read as the person's name), is left out."""
    found = person_spans(text, relationship)
    if applicant:
        for field, relationships in _NOT_THE_APPLICANT.items():
            span = found.get(field)
            if span and relationship in relationships and _same_name(text[slice(*span)], applicant):
                del found[field]
    place = place_of_birth(text)
    if place is not None:
        found["place_of_birth"] = place
    return found
