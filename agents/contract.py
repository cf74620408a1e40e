"""The contract between the engine and the nodes: the one Celery task, its queues, and its reply.

The engine (``orchestrator.engine``) sends ``TASK_NAME`` with ``[model, payload]`` (the
payload is ``agents.steps.StepRequest.to_payload()``) to a node's queue; the node
(``workers.tasks``) answers with a :data:`StepReply` as JSON: an :class:`OkReply` with the
step's result, or a :class:`FailedReply` with the error and its :class:`ErrorKind`. The wire
format is plain JSON over Celery, field names as before this module: a node of the previous
version (``error_type`` only, no ``error_kind``) still parses, and an engine of the previous
version still reads ``error_type``.

Both sides import this module; it imports nothing of the orchestrator's or the nodes'.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from agents.errors import AgentError, InvalidOutputError, ModelUnavailableError

TASK_NAME = "idara.run_agent_step"
"""The Celery task a node runs for every agent step."""

ALIVE_TTL_S = 9
"""A running step's heartbeat key expires this long after its node stopped beating."""


def alive_key(task_id: str) -> str:
    """The key a node refreshes while it runs the step ``task_id`` (the engine reads it)."""
    return f"idara:alive:{task_id}"


def node_queue(node: str) -> str:
    """The queue of one node: the engine places each step on the node it chose."""
    return f"node.{node}"


def node_of(queue: str) -> str | None:
    """The node whose queue this is (``None`` for another queue)."""
    prefix, _, node = queue.partition(".")
    return node if prefix == "node" and node else None


def idle_queue(node: str) -> str:
    """Where a node listens while it may take no step: nothing is ever sent there (a Celery
    worker needs a queue to start with)."""
    return f"idle.{node}"


class ErrorKind(StrEnum):
    """Why a step failed; a step's retry policy (``on_errors``) names these. A node's reply
    carries one of ``invalid_output``, ``model_unavailable``, ``agent_error``; the engine adds
    ``timeout`` and ``node_error`` (no reply, a crash, a malformed reply), and ``tool_error``."""

    timeout = "timeout"
    node_error = "node_error"
    invalid_output = "invalid_output"
    model_unavailable = "model_unavailable"
    agent_error = "agent_error"
    tool_error = "tool_error"


def error_kind_of(exc: AgentError) -> ErrorKind:
    """The kind of a failure a node reports."""
    if isinstance(exc, InvalidOutputError):
        return ErrorKind.invalid_output
    if isinstance(exc, ModelUnavailableError):
        return ErrorKind.model_unavailable
    return ErrorKind.agent_error


_KIND_OF_ERROR_TYPE = {
    InvalidOutputError.__name__: ErrorKind.invalid_output,
    ModelUnavailableError.__name__: ErrorKind.model_unavailable,
}
"""What a node of the previous version meant by its ``error_type`` (an exception class name)."""


@dataclass(frozen=True)
class StepResult:
    """What a step produced on the node (``agents.steps.run_step``), as the engine stores it."""

    output: dict[str, Any]
    prompt_ref: str
    prompt_sha256: str
    output_sha256: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float
    tokens_per_s: float
    notes: list[str]
    messages: list[dict[str, str]]
    """The rendered prompt: the audit log keeps it apart from the chain, by its sha256."""

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str
    node: str
    model_sha256: str | None = None
    """The sha256 of the model file that ran the step (absent when none was loaded)."""

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict a node returns from its task."""
        return self.model_dump(mode="json")


class OkReply(_Reply):
    """The step ran: its output, the rendered prompt and the model's counts."""

    ok: Literal[True] = True
    result: StepResult


class FailedReply(_Reply):
    """A known failure (an :class:`~agents.errors.AgentError`): a reason for the case."""

    ok: Literal[False] = False
    error: str
    error_kind: ErrorKind = ErrorKind.agent_error
    error_type: str = ""
    """The exception's class name: what nodes before ``error_kind`` sent, still sent so that
    an engine of that version reads the kind."""

    @model_validator(mode="before")
    @classmethod
    def _kind_from_error_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and "error_kind" not in data and data.get("error_type"):
            kind = _KIND_OF_ERROR_TYPE.get(str(data["error_type"]), ErrorKind.agent_error)
            return {**data, "error_kind": kind}
        return data

    @classmethod
    def of(cls, exc: AgentError, *, model: str, node: str, model_sha256: str | None) -> FailedReply:
        return cls(
            model=model,
            node=node,
            model_sha256=model_sha256,
            error=str(exc),
            error_kind=error_kind_of(exc),
            error_type=type(exc).__name__,
        )


StepReply = OkReply | FailedReply
"""What a node replies to a step, told apart by ``ok``."""


class MalformedReply(ValueError):
    """What came back is not a step reply this engine can read (a bug, or a node of an
    incompatible version)."""


def parse_reply(raw: Any) -> StepReply:
    """The node's reply, typed; :class:`MalformedReply` says which fields are wrong."""
    ok = raw.get("ok") if isinstance(raw, dict) else None
    if not isinstance(ok, bool):
        if not isinstance(raw, dict):
            got = f"a {type(raw).__name__}, not an object"
        else:
            got = "no ok" if "ok" not in raw else f"ok of type {type(ok).__name__}"
        raise MalformedReply(f"malformed step reply (ok: true or false expected; got {got})")
    reply: type[StepReply] = OkReply if ok else FailedReply
    try:
        return reply.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise MalformedReply(f"malformed step reply ({problems})") from exc
