"""The allow-listed agent tools, against the real seed files in seeds/regulations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from agents.errors import AgentError
from agents.tools import (
    TOOLS,
    ToolContext,
    ToolError,
    argument_errors,
    canonical_sha256,
    get_tool,
    run_tool,
)
from agents.tools.regulations import lookup_regulation, normalise, tokens

DOCUMENTS_DIR = Path(__file__).resolve().parents[2] / "seeds" / "regulations"


def _context(language: str = "fr") -> ToolContext:
    return ToolContext(documents_dir=DOCUMENTS_DIR, language=language)


def _run(name: str, language: str = "fr", **args: Any) -> dict[str, Any]:
    return run_tool(name, args, _context(language)).output


# --- registry and arguments ---------------------------------------------------------------


def test_the_allow_list_holds_exactly_the_three_tools_with_valid_closed_schemas() -> None:
    assert set(TOOLS) == {"lookup_regulation", "check_documents", "compute_fee"}
    for tool in TOOLS.values():
        Draft202012Validator.check_schema(tool.args_schema)
        assert tool.args_schema["additionalProperties"] is False
        assert tool.description


def test_an_unknown_tool_is_refused_everywhere_and_the_error_names_the_known_ones() -> None:
    with pytest.raises(ToolError, match="compute_fee") as refused:
        get_tool("shell")
    assert isinstance(refused.value, AgentError)
    with pytest.raises(ToolError, match="unknown tool 'shell'"):
        run_tool("shell", {}, _context())
    assert len(argument_errors("shell", {})) == 1


def test_argument_errors_lists_every_problem_at_once() -> None:
    errors = argument_errors("lookup_regulation", {"query": 42, "limit": 9, "verbose": True})
    assert errors == [
        "collection: is required",
        "limit: must be at most 5",
        "query: must be of type string",
        "verbose: is not an allowed argument",
    ]
    assert argument_errors("lookup_regulation", {"collection": "civil-status", "query": "x"}) == []


def test_argument_errors_name_the_item_of_a_list() -> None:
    args = {"checklist": "business-licence", "activity": "restaurant", "provided": ["ok", 3]}
    assert argument_errors("check_documents", args) == ["provided[1]: must be of type string"]


def test_run_tool_refuses_invalid_arguments_listing_every_problem() -> None:
    with pytest.raises(ToolError) as refused:
        run_tool("compute_fee", {"schedule": "Business Licence", "surface_m2": 0}, _context())
    message = str(refused.value)
    for problem in (
        "activity: is required",
        "schedule: must match",
        "surface_m2: must be at least",
    ):
        assert problem in message


def test_hashes_are_stable_for_equal_arguments_whatever_their_key_order() -> None:
    args = {"schedule": "business-licence", "activity": "restaurant", "surface_m2": 120}
    first = run_tool("compute_fee", args, _context())
    second = run_tool("compute_fee", dict(reversed(list(args.items()))), _context())
    assert first.args_sha256 == second.args_sha256 == canonical_sha256(args)
    assert first.output_sha256 == second.output_sha256 == canonical_sha256(first.output)
    other = run_tool("compute_fee", {**args, "surface_m2": 121}, _context())
    assert other.args_sha256 != first.args_sha256
    assert first.duration_ms >= 0


# --- lookup_regulation --------------------------------------------------------------------


def test_lookup_finds_the_fire_safety_article_for_a_french_query() -> None:
    output = _run(
        "lookup_regulation", collection="business-licence", query="sécurité incendie restaurant"
    )
    [match] = output["matches"]
    assert match["source"] == "reglement-communal.md"
    assert match["article"].startswith("Article 3") and "incendie" in match["article"]
    assert "extincteurs" in match["excerpt"] and len(match["excerpt"]) <= 400
    assert match["score"] == 1.0


def test_lookup_returns_up_to_limit_matches_best_first_and_only_positive_scores() -> None:
    output = _run(
        "lookup_regulation",
        collection="civil-status",
        query="délai de délivrance de l'extrait",
        limit=5,
    )
    scores = [match["score"] for match in output["matches"]]
    assert output["matches"][0]["article"] == "Article 3 — Délai de délivrance"
    assert scores == sorted(scores, reverse=True) and all(score > 0 for score in scores)
    nothing = _run("lookup_regulation", collection="civil-status", query="zzz qqq", limit=5)
    assert nothing == {"matches": []}


def test_lookup_ignores_accents_case_and_arabic_diacritics() -> None:
    assert tokens("SECURITE Incendie") == tokens("sécurité incendie")
    assert normalise("مَـدِينَة") == normalise("مدينة")
    output = _run("lookup_regulation", collection="business-licence", query="HYGIENE restaurants")
    assert output["matches"][0]["article"] == "Article 4 — Hygiène des restaurants"


def test_an_unknown_collection_is_refused_naming_the_available_ones() -> None:
    with pytest.raises(ToolError, match="business-licence, civil-status"):
        _run("lookup_regulation", collection="urbanism", query="permis")


def test_a_path_outside_the_documents_folder_is_refused() -> None:
    with pytest.raises(ToolError, match="collection: must match"):
        _run("lookup_regulation", collection="../etc", query="passwd")
    # The tool refuses it too, should it ever be called without the schema check.
    with pytest.raises(ToolError, match="outside the documents folder"):
        lookup_regulation({"collection": "../etc", "query": "passwd"}, _context())


# --- check_documents ----------------------------------------------------------------------

_BASICS = ["cin_copy", "lease_contract", "commercial_register", "site_plan"]


def test_a_restaurant_is_told_its_fire_and_health_certificates_are_missing_in_arabic() -> None:
    output = _run(
        "check_documents",
        language="ar",
        checklist="business-licence",
        activity="restaurant",
        provided=_BASICS,
    )
    assert output["complete"] is False
    assert output["missing"] == ["fire_safety_certificate", "health_certificate"]
    assert output["missing_labels"] == ["شهادة السلامة من الحرائق", "الشهادة الصحية"]
    assert output["provided"] == _BASICS and output["unknown"] == []


def test_the_file_is_complete_when_every_document_is_given() -> None:
    provided = [*_BASICS, "health_certificate", "fire_safety_certificate"]
    output = _run(
        "check_documents", checklist="business-licence", activity="restaurant", provided=provided
    )
    assert output["complete"] is True
    assert output["missing"] == output["missing_labels"] == []
    assert len(output["required"]) == 6


def test_unknown_provided_codes_are_reported_and_labels_follow_the_language() -> None:
    output = _run(
        "check_documents",
        language="en",
        checklist="birth-certificate",
        activity="extract",
        provided=["passport_copy", "passport_copy"],
    )
    assert output["unknown"] == ["passport_copy"]
    assert output["provided"] == [] and output["missing"] == ["cin_copy"]
    assert output["missing_labels"] == ["Copy of the national ID card (CNIE)"]


def test_an_unknown_checklist_or_activity_lists_the_valid_ones() -> None:
    with pytest.raises(ToolError, match="birth-certificate, business-licence"):
        _run("check_documents", checklist="tax", activity="extract", provided=[])
    with pytest.raises(ToolError, match="restaurant, retail_shop, workshop"):
        _run("check_documents", checklist="business-licence", activity="bakery", provided=[])


# --- compute_fee --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activity", "surface", "fee"),
    [
        ("retail_shop", 50, 300),
        ("retail_shop", 80, 450),
        ("restaurant", 50, 800),
        ("restaurant", 120, 1500),
        ("workshop", 100, 500),
        ("workshop", 150, 900),
    ],
)
def test_compute_fee_at_and_above_the_threshold(activity: str, surface: int, fee: int) -> None:
    output = _run("compute_fee", schedule="business-licence", activity=activity, surface_m2=surface)
    assert output["fee_mad"] == fee
    assert output["article"] == "Article 6 — Droits et redevances"


def test_the_fee_basis_is_written_in_the_case_language() -> None:
    args: dict[str, Any] = {
        "schedule": "business-licence",
        "activity": "restaurant",
        "surface_m2": 120,
    }
    assert "800 + 70 \u00d7 10 = 1500 MAD" in _run("compute_fee", **args)["basis"]
    assert "1500 درهم" in _run("compute_fee", language="ar", **args)["basis"]
    assert _run("compute_fee", language="en", **{**args, "surface_m2": 40})["basis"] == (
        "Base fee of 800 MAD: the surface of 40 m² does not exceed 50 m²."
    )


def test_the_fee_article_is_a_real_heading_of_the_regulation() -> None:
    output = _run("compute_fee", schedule="business-licence", activity="workshop", surface_m2=10)
    regulation = DOCUMENTS_DIR / "business-licence" / "reglement-communal.md"
    assert f"## {output['article']}\n" in regulation.read_text(encoding="utf-8")


def test_an_unknown_schedule_or_activity_is_refused() -> None:
    with pytest.raises(ToolError, match="valid: business-licence"):
        _run("compute_fee", schedule="parking", activity="retail_shop", surface_m2=10)
    with pytest.raises(ToolError, match="restaurant, retail_shop, workshop"):
        _run("compute_fee", schedule="business-licence", activity="bakery", surface_m2=10)


def test_the_seed_files_say_they_are_sample_text() -> None:
    for path in sorted(DOCUMENTS_DIR.rglob("*")):
        if path.is_file():
            assert "SAMPLE" in path.read_text(encoding="utf-8")[:200], path
