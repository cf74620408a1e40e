"""A node's metrics: what its worker processes count (prometheus_client's multiprocess files),
summed by its main process, and the port it serves them on, scraped over loopback."""

from __future__ import annotations

import logging
import multiprocessing
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orchestrator.settings import Settings
from tests.conftest import free_port
from workers import metrics as node_metrics
from workers.membership import Heartbeats, Member

MODEL = "smollm2-135m"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def member(name: str = "gpu-1") -> Member:
    return Member(
        control_plane="http://127.0.0.1:1",
        token="unused",
        name=name,
        pool="default",
        labels={},
        models=[MODEL, "qwen-7b"],
        concurrency=2,
    )


def ok_reply(prompt: int = 120, generated: int = 40, duration_ms: float = 800.0) -> dict[str, Any]:
    """What ``run_agent_step`` returns for a step that worked (``StepResult.to_payload``)."""
    result = {
        "output": {"department": "civil-status"},
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "duration_ms": duration_ms,
        "tokens_per_s": generated / (duration_ms / 1000.0),
    }
    return {"model": MODEL, "node": "gpu-1", "ok": True, "result": result}


FAILED = {"model": MODEL, "node": "gpu-1", "ok": False, "error": "no", "error_type": "AgentError"}


@pytest.fixture
def counting(tmp_path: Path) -> Iterator[Path]:
    directory = node_metrics.fresh_directory(tmp_path / "node-metrics")
    node_metrics.count_in(directory)
    try:
        yield directory
    finally:
        node_metrics.stop()


@pytest.fixture
def heartbeats(monkeypatch: pytest.MonkeyPatch) -> type[Heartbeats]:
    monkeypatch.setattr(Heartbeats, "last_answer_at", None)
    monkeypatch.setattr(Heartbeats, "taking_steps", False)
    return Heartbeats


def scrape_files(directory: Path) -> Samples:
    registry = node_metrics.registry_for(directory, node_metrics.NodeState(member()))
    return parse(generate_latest(registry).decode())


def test_steps_are_counted_by_outcome_with_tokens_and_times(counting: Path) -> None:
    node_metrics.record_started(MODEL)
    node_metrics.record_finished(MODEL, ok_reply(), 1.5)
    node_metrics.record_started(MODEL)
    node_metrics.record_finished(MODEL, FAILED, 0.2)
    with pytest.raises(RuntimeError), node_metrics.step(MODEL):
        raise RuntimeError("the model segfaulted")
    with node_metrics.step(MODEL) as counted:
        counted.done(ok_reply(prompt=80, generated=160, duration_ms=2000.0))

    samples = scrape_files(counting)
    assert value(samples, "idara_node_steps_started_total", model=MODEL) == 4.0
    finished = {
        outcome: value(samples, "idara_node_steps_finished_total", model=MODEL, outcome=outcome)
        for outcome in ("ok", "failed", "crashed")
    }
    assert finished == {"ok": 2.0, "failed": 1.0, "crashed": 1.0}
    assert value(samples, "idara_node_prompt_tokens_total", model=MODEL) == 200.0
    assert value(samples, "idara_node_generated_tokens_total", model=MODEL) == 200.0
    # only ok steps are timed: 1.5 s, and the one of the block (a few microseconds)
    assert value(samples, "idara_node_step_seconds_count", model=MODEL) == 2.0
    assert value(samples, "idara_node_step_seconds_bucket", model=MODEL, le="0.1") == 1.0
    assert value(samples, "idara_node_step_seconds_bucket", model=MODEL, le="2.5") == 2.0
    assert value(samples, "idara_node_model_seconds_sum", model=MODEL) == pytest.approx(2.8)
    rate = "idara_node_tokens_per_second_bucket"
    assert value(samples, rate, model=MODEL, le="40.0") == 0.0  # 50 and 80 tokens per second
    assert value(samples, rate, model=MODEL, le="80.0") == 2.0


def _a_step_in_a_child() -> None:
    node_metrics.record_started(MODEL)
    node_metrics.record_finished(MODEL, ok_reply(), 3.0)


def test_the_counts_of_forked_workers_add_up_and_outlive_them(counting: Path) -> None:
    """As in a prefork worker: children forked after ``count_in`` write their own files, which
    the main process sums, and which stay after a child exits."""
    fork = multiprocessing.get_context("fork")
    for _ in range(2):
        child = fork.Process(target=_a_step_in_a_child)
        child.start()
        child.join(30)
        assert child.exitcode == 0
    node_metrics.record_started(MODEL)
    node_metrics.record_finished(MODEL, FAILED, 0.1)

    samples = scrape_files(counting)
    assert value(samples, "idara_node_steps_started_total", model=MODEL) == 3.0
    assert value(samples, "idara_node_steps_finished_total", model=MODEL, outcome="ok") == 2.0
    assert value(samples, "idara_node_generated_tokens_total", model=MODEL) == 80.0
    assert len(list(counting.glob("counter_*.db"))) == 3  # one file per process


def test_the_node_serves_its_metrics_on_loopback(
    tmp_path: Path, heartbeats: type[Heartbeats]
) -> None:
    settings = Settings(data_dir=tmp_path, node_metrics_port=free_port())
    stale = node_metrics.fresh_directory(tmp_path / "node-metrics" / "gpu-1") / "counter_1.db"
    stale.write_bytes(b"from an earlier run")
    server = node_metrics.serve(settings, member())
    try:
        assert server is not None and not stale.exists()  # wiped at start
        heartbeats.last_answer_at = time.monotonic() - 12
        heartbeats.taking_steps = True
        node_metrics.record_started(MODEL)
        node_metrics.record_finished(MODEL, ok_reply(), 1.0)
        url = f"http://127.0.0.1:{settings.node_metrics_port}/metrics"
        answer = httpx.get(url, timeout=5, trust_env=False)
    finally:
        node_metrics.stop()
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = parse(answer.text)
    assert 12 <= (value(samples, "idara_node_heartbeat_age_seconds") or 0) < 30
    assert value(samples, "idara_node_schedulable") == 1.0
    assert value(samples, "idara_node_running_steps") == 0.0
    info = {"node": "gpu-1", "pool": "default", "models": f"{MODEL},qwen-7b"}
    assert value(samples, "idara_node_info", **info) == 1.0
    assert value(samples, "idara_node_steps_finished_total", model=MODEL, outcome="ok") == 1.0


def test_before_any_heartbeat_the_registration_is_the_last_answer(
    heartbeats: type[Heartbeats],
) -> None:
    samples = parse(generate_latest(node_metrics.NodeState(member())).decode())
    assert (value(samples, "idara_node_heartbeat_age_seconds") or 99) < 5
    assert value(samples, "idara_node_schedulable") == 0.0


def test_metrics_off_or_a_taken_port_leave_the_node_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert node_metrics.serve(Settings(data_dir=tmp_path, node_metrics_port=0), member()) is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger=node_metrics.__name__):
            settings = Settings(data_dir=tmp_path, node_metrics_port=port)
            assert node_metrics.serve(settings, member()) is None
    assert "no metrics, cannot serve" in caplog.text
    node_metrics.record_started(MODEL)  # counting is off: a no-op, no error
