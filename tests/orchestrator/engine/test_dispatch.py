"""The engine's wait for a step: a step that is queued or running is waited for; one that is
neither for ``lost_after_s`` is sent again; a result ends the wait. The broker here is a
stand-in with the three answers Redis gives (the chaos tests run the real one)."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engine import dispatch


class Broker:
    """Answers what Redis would: the task's state, its queue's messages, its heartbeat key."""

    def __init__(self) -> None:
        self.status = "PENDING"
        self.queued: list[bytes] = []
        self.alive = False
        self.resends = 0
        self.looked_in: list[str] = []
        self.backend = self
        self.client = self

    def get_task_meta(self, task_id: str) -> dict[str, Any]:
        if self.status == "SUCCESS":
            return {"status": "SUCCESS", "result": {"ok": True}}
        return {"status": self.status}

    def lrange(self, queue: str, start: int, end: int) -> list[bytes]:
        self.looked_in.append(queue)
        return self.queued

    def exists(self, key: str) -> int:
        return int(self.alive)


@pytest.fixture(autouse=True)
def _fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatch, "ACCOUNT_EVERY_S", 0.01)


def _wait(broker: Broker, timeout_s: float, after_resend: Any = None) -> dict[str, Any]:
    def resend() -> None:
        broker.resends += 1
        if after_resend:
            after_resend()

    return dispatch.wait_for_result(
        broker,  # type: ignore[arg-type]
        "task-1",
        timeout_s,
        resend=resend,
        queue="node.n1",
        lost_after_s=0.1,
    )


def test_a_queued_step_is_waited_for_not_sent_again() -> None:
    broker = Broker()
    broker.queued = [b'{"headers": {"id": "task-1"}}']
    with pytest.raises(dispatch.StepTimeout):
        _wait(broker, 0.5)
    assert broker.resends == 0


def test_a_running_step_is_waited_for_not_sent_again() -> None:
    broker = Broker()
    broker.alive = True
    with pytest.raises(dispatch.StepTimeout):
        _wait(broker, 0.5)
    assert broker.resends == 0


def test_a_lost_step_is_sent_again_and_its_result_ends_the_wait() -> None:
    broker = Broker()

    def node_picks_it_up() -> None:
        broker.status = "SUCCESS"

    assert _wait(broker, 5, node_picks_it_up) == {"ok": True}
    assert broker.resends == 1


def test_a_step_still_lost_is_sent_again_no_more_often_than_the_delay() -> None:
    broker = Broker()
    with pytest.raises(dispatch.StepTimeout):
        _wait(broker, 0.55)
    assert 2 <= broker.resends <= 5


def test_a_queued_step_whose_node_cannot_take_it_is_moved_and_watched_where_it_went() -> None:
    broker = Broker()
    broker.queued = [b'{"headers": {"id": "task-1"}}']
    asked: list[str] = []

    def move(queue: str) -> str | None:
        asked.append(queue)
        return "node.b" if queue == "node.a" else None

    with pytest.raises(dispatch.StepTimeout):
        dispatch.wait_for_result(
            broker,  # type: ignore[arg-type]
            "task-1",
            0.3,
            resend=lambda: None,
            queue="node.a",
            lost_after_s=0.1,
            move=move,
        )
    assert asked[0] == "node.a" and set(asked[1:]) == {"node.b"}
    assert broker.looked_in[-1] == "node.b" and broker.resends == 0


def test_a_running_step_is_not_moved() -> None:
    broker = Broker()
    broker.alive = True
    moves: list[str] = []
    with pytest.raises(dispatch.StepTimeout):
        dispatch.wait_for_result(
            broker,  # type: ignore[arg-type]
            "task-1",
            0.2,
            resend=lambda: None,
            queue="node.a",
            move=lambda queue: moves.append(queue) or None,
        )
    assert moves == []
