"""How the engine stores a node's reply (``flows._store_reply`` through ``agents.contract``):
a failure keeps its kind, a node of the previous version's failure still does, and a reply
that does not parse fails the step as a ``node_error`` rather than raising a KeyError."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from agents.contract import ErrorKind
from orchestrator.cases.lifecycle import StepFailed
from orchestrator.cases.models import CaseStep, StepStatus
from orchestrator.db import session_scope
from orchestrator.engine import flows, state
from orchestrator.procedures.schemas import LlmStep
from tests.orchestrator.test_approvals_api import _publish


def _store(api: TestClient, reply: Any) -> tuple[StepFailed, CaseStep]:
    """File a case, start its draft step as the engine does, and store ``reply`` for it."""
    _publish()
    body = {"procedure": "approval-test", "text": "Je demande un certificat.", "language": "fr"}
    case_id = api.post("/api/v1/cases", json=body).json()["id"]
    with session_scope() as session:
        state.claim_due_cases(session, 10)
        run = state.load_run(session, case_id)
        draft_id = run.steps["draft"].id
        assert draft_id is not None
        state.record_step_started(session, run.case, draft_id, 1)
        spec = run.definition.step("draft")
        assert isinstance(spec, LlmStep)
        with pytest.raises(StepFailed) as caught:
            flows._store_reply(session, draft_id, spec, reply, 0.5, body["text"])
    with session_scope() as session:
        step = session.get(CaseStep, draft_id)
        assert step is not None
        session.expunge(step)
    return caught.value, step


def test_a_failure_keeps_its_kind(api: TestClient) -> None:
    reply = {"ok": False, "model": "m", "node": "n1", "error": "bad JSON"}
    failed, step = _store(api, {**reply, "error_kind": "invalid_output"})
    assert failed.kind == ErrorKind.invalid_output
    assert step.status == StepStatus.failed and step.node == "n1"
    assert step.error == "step draft failed on node n1: bad JSON"


def test_a_failure_of_a_node_of_the_previous_version_keeps_its_kind(api: TestClient) -> None:
    old = {"ok": False, "model": "m", "node": "n1", "error": "gone"}
    failed, _ = _store(api, {**old, "error_type": "ModelUnavailableError"})
    assert failed.kind == ErrorKind.model_unavailable


def test_a_malformed_reply_fails_the_step_as_a_node_error(api: TestClient) -> None:
    reply = {"ok": True, "model": "m", "node": "n1", "result": {"output": {}}}
    failed, step = _store(api, reply)
    assert failed.kind == ErrorKind.node_error
    assert "node n1 sent a reply this engine cannot read" in str(failed)
    assert "result.prompt_ref: Field required" in str(failed)
    assert step.status == StepStatus.failed and step.error == str(failed)
