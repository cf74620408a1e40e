"""The engine's Celery app against a real Redis that stops and comes back: a send to a stopped
Redis fails fast with the error the engine handles, and the same app works again afterwards.
Each send happens on a new thread, as the engine's flow tasks do: Celery keeps one result
backend per thread, and the failure this guards against shows on a thread's first send."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orchestrator.cli.stack import Stack
from orchestrator.engine import dispatch
from orchestrator.settings import Settings
from tests.conftest import free_port
from workers.celery_app import make_celery


@pytest.fixture
def redis_stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(Settings(data_dir=tmp_path, redis_port=free_port()))
    stack.start_redis()
    try:
        yield stack
    finally:
        stack.stop()


def test_a_send_to_a_stopped_redis_fails_fast_and_the_app_recovers(redis_stack: Stack) -> None:
    app = make_celery(redis_stack.settings)

    def send(task_id: str) -> None:
        with ThreadPoolExecutor(max_workers=1) as flow_thread:
            flow_thread.submit(
                dispatch.send_step, app, task_id, "smollm2-135m", "node.n1", {"id": task_id}
            ).result()

    send("before")
    assert dispatch.is_queued(app, "node.n1", "before")

    redis_stack.kill("redis")
    started = time.monotonic()
    with pytest.raises(dispatch.BrokerUnavailable, match="unreachable"):
        send("while-down")
    assert time.monotonic() - started < 5

    redis_stack.start_redis()  # same port, same append-only data
    send("after")
    assert dispatch.is_queued(app, "node.n1", "after")
    assert not dispatch.is_queued(app, "node.n1", "while-down")
    assert dispatch.task_meta(app, "after")["status"] == "PENDING"


def test_a_step_taken_back_from_a_node_queue_is_gone_from_it_once(redis_stack: Stack) -> None:
    app = make_celery(redis_stack.settings)
    for task_id in ("first", "second"):
        dispatch.send_step(app, task_id, "smollm2-135m", "node.n1", {"id": task_id})
    assert dispatch.take_back(app, "node.n1", "first")
    assert not dispatch.take_back(app, "node.n1", "first")  # a node took it, or we did
    assert not dispatch.is_queued(app, "node.n1", "first")
    assert dispatch.is_queued(app, "node.n1", "second")
    dispatch.send_step(app, "first", "smollm2-135m", "node.n2", {"id": "first"})
    assert dispatch.is_queued(app, "node.n2", "first")
