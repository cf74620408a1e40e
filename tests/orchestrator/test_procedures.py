"""The procedure format: validation with lines, publication, versions, conditions, rules."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from orchestrator.db import make_engine, migrate
from orchestrator.procedures.conditions import holds
from orchestrator.procedures.json_schema import procedure_json_schema
from orchestrator.procedures.rules import evaluate
from orchestrator.procedures.schemas import Condition, RuleStep
from orchestrator.procedures.service import ProcedureError, load_definition, publish
from orchestrator.settings import REPO_ROOT
from workers.settings import SEEDS_DIR

TRIAGE_FILE = SEEDS_DIR / "procedures" / "citizen-request-triage.yaml"
SEED_FILES = sorted((SEEDS_DIR / "procedures").glob("*.yaml"))


def test_published_versions_are_immutable(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    definition = load_definition(TRIAGE_FILE)
    with Session(engine) as session:
        _, created = publish(session, definition)
        assert created
        _, created_again = publish(session, definition)
        assert not created_again
        changed = definition.model_copy(update={"title": "Another title"})
        with pytest.raises(ProcedureError, match="immutable"):
            publish(session, changed)
        newer = definition.model_copy(update={"version": 5, "title": "Another title"})
        assert publish(session, newer)[1]
        older = definition.model_copy(update={"version": 2, "title": "Older"})
        with pytest.raises(ProcedureError, match="higher number"):
            publish(session, older)
    engine.dispose()


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_every_seed_procedure_is_valid(path: Path) -> None:
    definition = load_definition(path)
    assert definition.steps[-1].kind == "deliver"
    assert any(step.kind == "human_approval" for step in definition.steps)


def test_an_invalid_procedure_file_lists_its_problems_with_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\nversion: 0\ntitle: x\nsteps: []\n")
    with pytest.raises(ProcedureError) as caught:
        load_definition(bad)
    problems = caught.value.problems
    assert any(p.startswith(f"{bad}:1: name:") for p in problems)
    assert any(p.startswith(f"{bad}:2: version:") for p in problems)
    assert any(p.startswith(f"{bad}:4: steps:") for p in problems)


BROKEN = """\
name: broken
version: 1
title: Broken
applicant_fields:
  - name: cin
    label: CIN
steps:
  - name: one
    kind: llm
    agent: nope
    prompt: triage/classify
    prompt_version: 1
    model: m
  - name: two
    kind: rule
    checks:
      - path: outputs.three.x
        required: true
        message: x
  - name: three
    kind: tool
    tool: rm_rf
  - name: four
    kind: deliver
    when: {path: applicant.age, equals: 3}
    document: [two]
"""


def test_cross_references_are_checked_each_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text(BROKEN)
    with pytest.raises(ProcedureError) as caught:
        load_definition(bad)
    problems = "\n".join(caught.value.problems)
    assert f"{bad}:10: steps[0].agent: unknown agent 'nope'" in problems
    assert f"{bad}:17: steps[1].checks[0].path: outputs.three.x: 'three' is not an earlier" in (
        problems
    )
    assert f"{bad}:22: steps[2].tool: 'rm_rf' is not an allowed tool" in problems
    assert "steps[3].when: applicant.age: no applicant field 'age'" in problems
    assert "steps[3].document: 'two' is not a draft" in problems


def test_tool_arguments_are_checked_against_the_tool_schema(tmp_path: Path) -> None:
    text = TRIAGE_FILE.read_text().replace(
        "  - name: approve\n",
        "  - name: fee\n    kind: tool\n    tool: compute_fee\n"
        "    args: {schedule: business-licence, surface_m2: -4, colour: red}\n"
        "  - name: approve\n",
    )
    bad = tmp_path / "triage.yaml"
    bad.write_text(text)
    with pytest.raises(ProcedureError) as caught:
        load_definition(bad)
    problems = "\n".join(caught.value.problems)
    assert "compute_fee takes no argument 'colour'" in problems
    assert "compute_fee needs the argument 'activity'" in problems
    assert "steps[3].args.surface_m2" in problems


def _triage_with_approval_when(tmp_path: Path, when: str) -> Path:
    text = TRIAGE_FILE.read_text().replace(
        "    escalate_to: directorate\n", f"    escalate_to: directorate\n    when: {when}\n"
    )
    path = tmp_path / "triage.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "when",
    [
        "{path: outputs.classify.urgency, equals: high}",
        "{not: {path: outputs.extract.cin, exists: true}}",
        "{any: [{path: applicant.phone, exists: true}, {path: outputs.classify.urgency, "
        "equals: high}]}",
    ],
)
def test_an_approval_conditioned_on_an_agents_answer_is_refused_at_publication(
    tmp_path: Path, when: str
) -> None:
    path = _triage_with_approval_when(tmp_path, when)
    with pytest.raises(ProcedureError) as caught:
        load_definition(path)
    problems = "\n".join(caught.value.problems)
    assert "steps[3].when: outputs." in problems
    assert "an approval's condition cannot read what an agent produced" in problems


def test_an_approval_may_be_conditioned_on_what_no_agent_feeds(tmp_path: Path) -> None:
    path = _triage_with_approval_when(tmp_path, "{path: applicant.phone, exists: true}")
    assert load_definition(path).step("approve").when is not None


def test_the_published_json_schema_in_docs_is_current() -> None:
    committed = json.loads((REPO_ROOT / "docs" / "procedure.schema.json").read_text())
    assert committed == procedure_json_schema(), "run: idara procedures schema > docs/…"


NS = {
    "applicant": {"activity": "restaurant", "documents": ["cin_copy"]},
    "case": {"language": "fr"},
    "outputs": {"documents": {"complete": False, "missing": ["site_plan"]}, "skipped": None},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"path": "outputs.documents.complete", "equals": False}, True),
        ({"path": "outputs.documents.complete", "equals": True}, False),
        ({"path": "outputs.nothing.complete", "equals": False}, False),
        ({"path": "outputs.nothing.complete", "not_equals": True}, True),
        ({"path": "applicant.activity", "in": ["restaurant", "workshop"]}, True),
        ({"path": "outputs.documents.missing.0", "equals": "site_plan"}, True),
        ({"path": "applicant.phone", "exists": False}, True),
        (
            {
                "all": [
                    {"path": "case.language", "equals": "fr"},
                    {"path": "outputs.x.y", "exists": True},
                ]
            },
            False,
        ),
        (
            {
                "any": [
                    {"path": "case.language", "equals": "ar"},
                    {"path": "case.language", "equals": "fr"},
                ]
            },
            True,
        ),
        ({"not": {"path": "case.language", "equals": "fr"}}, False),
    ],
)
def test_conditions(condition: dict[str, object], expected: bool) -> None:
    assert holds(Condition.model_validate(condition), NS) is expected


def test_a_condition_needs_exactly_one_test() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Condition.model_validate({"path": "case.language", "equals": "fr", "exists": True})


def test_rules_report_what_failed_in_the_case_language() -> None:
    step = RuleStep.model_validate(
        {
            "name": "checks",
            "kind": "rule",
            "checks": [
                {
                    "path": "applicant.name",
                    "required": True,
                    "message": {"fr": "Nom manquant", "en": "No name"},
                },
                {"path": "applicant.born", "min_age_years": 18, "message": "Mineur"},
                {"path": "applicant.born", "not_in_future": True, "message": "Date future"},
                {"path": "applicant.amount", "minimum": 10, "maximum": 20, "message": "Montant"},
                {"path": "applicant.docs", "contains_all": ["a", "b"], "message": "Pièces"},
                {"path": "applicant.cin", "pattern": "^[A-Z]{1,2}[0-9]{4,7}$", "message": "CIN"},
                {"path": "applicant.optional", "pattern": "^x$", "message": "never: absent"},
            ],
        }
    )
    ns = {
        "applicant": {
            "born": "2015-06-01",
            "amount": 25,
            "docs": ["a"],
            "cin": "BE123456",
        }
    }
    result = evaluate(step, ns, "fr", date(2026, 11, 23))
    assert result["passed"] is False
    assert result["messages"] == ["Nom manquant", "Mineur", "Montant", "Pièces"]
    adult = {"applicant": {"name": "A", "born": "01/02/1990", "amount": 15, "docs": ["b", "a"]}}
    assert evaluate(step, adult, "en", date(2026, 11, 23)) == {
        "passed": True,
        "failures": [],
        "messages": [],
        "checked": 7,
    }


def test_a_step_requires_node_labels_written_as_label_or_label_equals_value(
    tmp_path: Path,
) -> None:
    good = tmp_path / "triage.yaml"
    good.write_text(
        TRIAGE_FILE.read_text().replace(
            "    model: smollm2-135m\n",
            "    model: smollm2-135m\n    requires: [gpu, site=rabat]\n",
            1,
        )
    )
    assert load_definition(good).steps[0].requires == ["gpu", "site=rabat"]  # type: ignore[union-attr]
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("[gpu, site=rabat]", '["gpu site", "=rabat"]'))
    with pytest.raises(ProcedureError) as caught:
        load_definition(bad)
    problems = "\n".join(caught.value.problems)
    assert "steps[0].requires[0]" in problems and "steps[0].requires[1]" in problems
