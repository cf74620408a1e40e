"""The engine's Celery app against a real Redis that stops and comes back: a send to a stopped
Redis fails fast with the error the engine handles, and the same app works again afterwards.
Each send happens on a new thread, as the engine's flow tasks do: Celery keeps one result
backend per thread, and the failure this guards against shows on a thread's first send."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from orchestrator.engine import dispatch
from orchestrator.settings import Settings
from orchestrator.stack import Stack
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


def test_a_waiting_engine_is_woken_by_the_result_not_by_polling(redis_stack: Stack) -> None:
    """The state a node stores is pushed to the engine (Redis pub/sub): over a 2 s wait the
    engine reads the task's state a handful of times, where polling read it every 20-250 ms."""
    app = make_celery(redis_stack.settings)
    reads: list[float] = []
    read = app.backend.get_task_meta

    def counted(task_id: str) -> dict[str, object]:
        reads.append(time.monotonic())
        return read(task_id)  # type: ignore[no-any-return]

    app.backend.get_task_meta = counted  # this thread's backend: the wait reads through it

    def node_runs_the_step() -> None:
        time.sleep(1.0)
        store = make_celery(redis_stack.settings).backend
        store.store_result("pushed", None, "STARTED")
        time.sleep(1.0)
        store.store_result("pushed", {"answer": 42}, "SUCCESS")

    started: list[float] = []
    with ThreadPoolExecutor(max_workers=1) as node:
        node.submit(node_runs_the_step)
        result = dispatch.wait_for_result(
            app, "pushed", 30, on_started=lambda: started.append(time.monotonic())
        )
    assert result == {"answer": 42}
    assert started, "the STARTED state was seen"
    # the first read, after subscribing and its confirmation, the STARTED push, the result
    # push, and one a second besides: 8 at most, where polling made about 13
    assert len(reads) <= 8, reads


def test_a_wait_outlives_redis_going_away_and_coming_back(redis_stack: Stack) -> None:
    app = make_celery(redis_stack.settings)

    def redis_restarts_then_the_result_lands() -> None:
        time.sleep(0.5)
        redis_stack.kill("redis")
        time.sleep(1.5)
        redis_stack.start_redis()
        make_celery(redis_stack.settings).backend.store_result("survivor", {"ok": 1}, "SUCCESS")

    with ThreadPoolExecutor(max_workers=1) as node:
        restarting = node.submit(redis_restarts_then_the_result_lands)
        assert dispatch.wait_for_result(app, "survivor", 60) == {"ok": 1}
        restarting.result()


def test_importing_the_engine_the_ops_page_and_the_tasks_builds_no_app() -> None:
    """The app is built on first use (``get_celery``), with the task registered on it."""
    code = (
        "import orchestrator.web.ops, orchestrator.engine.flows, orchestrator.nodes.control\n"
        "import orchestrator.cli.nodes, workers.tasks\n"
        "from celery import _state\n"
        "from agents.contract import TASK_NAME\n"
        "from workers.celery_app import get_celery\n"
        "assert not list(_state._get_active_apps()), 'an app was built at import'\n"
        "assert TASK_NAME in get_celery().tasks and get_celery() is get_celery()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
