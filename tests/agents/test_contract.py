"""The engine–node contract (agents/contract.py): what a node replies, and how the engine
reads it, a reply of a node of the previous version and a malformed one included."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from agents.contract import (
    TASK_NAME,
    ErrorKind,
    FailedReply,
    MalformedReply,
    OkReply,
    StepResult,
    alive_key,
    idle_queue,
    node_of,
    node_queue,
    parse_reply,
)
from agents.errors import AgentError, InvalidOutputError, ModelUnavailableError, PromptError
from orchestrator.procedures.schemas import ErrorKind as ProcedureErrorKind

RESULT = StepResult(
    output={"category": "civil_status", "summary": None},
    prompt_ref="triage/classify@3",
    prompt_sha256="a" * 64,
    output_sha256="b" * 64,
    prompt_tokens=120,
    completion_tokens=12,
    duration_ms=900.5,
    tokens_per_s=13.3,
    notes=["a note"],
    messages=[{"role": "system", "content": "Classez."}],
)
WIRE_OK = {
    "ok": True,
    "model": "smollm2-135m",
    "node": "node-rabat-1",
    "model_sha256": "c" * 64,
    "result": RESULT.to_payload(),
}
"""A successful reply as nodes have always sent it."""


def test_an_ok_reply_keeps_the_wire_field_names_and_round_trips() -> None:
    reply = OkReply(model="smollm2-135m", node="node-rabat-1", model_sha256="c" * 64, result=RESULT)
    wire = json.loads(json.dumps(reply.to_wire()))  # JSON over Celery
    assert wire == WIRE_OK
    assert parse_reply(wire) == reply


def test_a_failure_names_its_kind_and_still_the_exception_class() -> None:
    for exc, kind in [
        (InvalidOutputError("not JSON"), ErrorKind.invalid_output),
        (ModelUnavailableError("no file"), ErrorKind.model_unavailable),
        (PromptError("no prompt"), ErrorKind.agent_error),
        (AgentError("other"), ErrorKind.agent_error),
    ]:
        wire = FailedReply.of(exc, model="m", node="n", model_sha256=None).to_wire()
        assert wire["ok"] is False and wire["error"] == str(exc)
        assert wire["error_kind"] == kind.value
        assert wire["error_type"] == type(exc).__name__  # what an engine of the last version reads
        parsed = parse_reply(wire)
        assert isinstance(parsed, FailedReply) and parsed.error_kind is kind


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("InvalidOutputError", ErrorKind.invalid_output),
        ("ModelUnavailableError", ErrorKind.model_unavailable),
        ("PromptError", ErrorKind.agent_error),
        ("AgentError", ErrorKind.agent_error),
    ],
)
def test_a_failure_from_a_node_of_the_previous_version_parses(
    error_type: str, kind: ErrorKind
) -> None:
    old = {"model": "m", "node": "n", "ok": False, "error": "why", "error_type": error_type}
    parsed = parse_reply(old)
    assert isinstance(parsed, FailedReply)
    assert (parsed.error, parsed.error_kind, parsed.model_sha256) == ("why", kind, None)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({**WIRE_OK, "result": {**WIRE_OK["result"], "prompt_tokens": None}}, "prompt_tokens"),
        ({k: v for k, v in WIRE_OK.items() if k != "result"}, "result"),
        ({k: v for k, v in WIRE_OK.items() if k != "ok"}, "ok"),
        ({"ok": False, "model": "m", "node": "n"}, "error"),
        ({**WIRE_OK, "ok": "yes"}, "ok"),
        ({**WIRE_OK, "ok": None}, "ok"),
        (None, "NoneType"),
        ("done", "str"),
    ],
)
def test_a_malformed_reply_says_what_is_wrong(raw: Any, names: str) -> None:
    with pytest.raises(MalformedReply, match="malformed step reply") as caught:
        parse_reply(raw)
    assert names in str(caught.value)


def test_unknown_fields_are_ignored_so_a_newer_node_still_parses() -> None:
    assert isinstance(parse_reply({**WIRE_OK, "batch": 3}), OkReply)


def test_the_error_kinds_are_those_a_retry_policy_names() -> None:
    assert {kind.value for kind in ErrorKind} == set(get_args(ProcedureErrorKind))


def test_names_of_the_task_and_the_queues() -> None:
    assert TASK_NAME == "idara.run_agent_step"
    assert node_queue("gpu-1") == "node.gpu-1"
    assert node_of("node.gpu-1") == "gpu-1"
    assert node_of(idle_queue("gpu-1")) is None
    assert node_of("node.") is None
    assert alive_key("t1") == "idara:alive:t1"
