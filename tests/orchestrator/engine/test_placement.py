"""Choosing a node for a step: the steps each node already holds, as the engine recorded them,
make the least loaded win; a step that needs a label goes only where it is."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, select

from orchestrator.cases.models import Case, CaseStatus, CaseStep, StepStatus
from orchestrator.db import get_engine
from orchestrator.engine import placement, state
from orchestrator.nodes import service
from orchestrator.procedures.schemas import LlmStep
from orchestrator.procedures.service import load_definition
from workers.settings import SEEDS_DIR

TRIAGE_FILE = SEEDS_DIR / "procedures" / "citizen-request-triage.yaml"


def _classify(**changes: object) -> LlmStep:
    step = load_definition(TRIAGE_FILE).steps[0]
    assert isinstance(step, LlmStep)
    return step.model_copy(update=changes)


def _hold(api: TestClient, session: Session, queue: str, status: StepStatus) -> None:
    """A running case whose first step the engine sent to ``queue``."""
    case = api.post(
        "/api/v1/cases",
        json={"procedure": "citizen-request-triage", "text": "Une demande.", "language": "fr"},
    ).json()
    session.execute(update(Case).where(Case.id == case["id"]).values(status=CaseStatus.running))
    first = session.exec(select(CaseStep).where(CaseStep.case_id == case["id"])).first()
    assert first is not None and first.id is not None
    state.set_step(session, first.id, status=status, queue=queue, task_id="t")


def test_the_node_holding_fewer_steps_is_chosen(api: TestClient) -> None:
    with Session(get_engine()) as session:
        for name in ("a", "b"):
            service.register(session, service.Registration(name, models=["smollm2-135m"]))
        session.commit()
        assert placement.choose(session, _classify()).name == "a"  # a tie: by name
        _hold(api, session, "node.a", StepStatus.dispatched)
        assert placement.in_flight(session) == {"a": 1}
        assert placement.choose(session, _classify()).name == "b"
        _hold(api, session, "node.b", StepStatus.running)
        _hold(api, session, "node.b", StepStatus.succeeded)  # done: holds nothing
        assert placement.in_flight(session) == {"a": 1, "b": 1}
        assert placement.choose(session, _classify()).name == "a"


def test_a_step_needing_a_label_goes_only_where_it_is(api: TestClient) -> None:
    with Session(get_engine()) as session:
        service.register(session, service.Registration("a", models=["smollm2-135m"]))
        service.register(
            session,
            service.Registration("gpu-1", labels={"gpu": "true"}, models=["smollm2-135m"]),
        )
        session.commit()
        _hold(api, session, "node.gpu-1", StepStatus.running)
        assert placement.choose(session, _classify(requires=["gpu"])).name == "gpu-1"
        with pytest.raises(service.NoNodeReady, match=r"with labels site=fes \(a lacks"):
            placement.choose(session, _classify(requires=["site=fes"]))
