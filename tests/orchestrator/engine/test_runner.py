"""The engine's case threads: a case whose thread ended without settling it is requeued, and
never one that a thread still runs."""

from __future__ import annotations

from concurrent.futures import Future

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from orchestrator.cases.models import Case, CaseStatus
from orchestrator.db import get_engine
from orchestrator.engine import runner
from orchestrator.settings import get_settings


def _running_case(api: TestClient, session: Session) -> str:
    case = api.post(
        "/api/v1/cases",
        json={"procedure": "citizen-request-triage", "text": "Une demande.", "language": "fr"},
    ).json()
    session.execute(update(Case).where(Case.id == case["id"]).values(status=CaseStatus.running))
    session.commit()
    return str(case["id"])


def _status(session: Session, case_id: str) -> tuple[str, str]:
    case = session.get(Case, case_id, populate_existing=True)
    assert case is not None
    return case.status, case.status_detail


def test_a_running_case_no_thread_runs_is_requeued(api: TestClient) -> None:
    engine = runner.Engine(get_settings())
    with Session(get_engine()) as session:
        abandoned, in_hand = _running_case(api, session), _running_case(api, session)
        still_running: Future[None] = Future()  # a thread that has not returned
        engine._running[still_running] = in_hand
        engine._next_orphan_sweep = 0.0
        assert engine.sweep_orphans() == 1
        assert _status(session, abandoned) == (
            CaseStatus.queued,
            "requeued: the engine thread running it had ended",
        )
        assert _status(session, in_hand)[0] == CaseStatus.running
        assert engine.sweep_orphans() == 0  # not again before ORPHAN_SWEEP_S


def test_a_failed_requeue_is_tried_again_not_dropped(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = runner.Engine(get_settings())
    calls: list[str] = []
    real = runner.state.requeue_case

    def flaky(session: Session, case_id: str, reason: str) -> None:
        calls.append(case_id)
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        real(session, case_id, reason)

    monkeypatch.setattr(runner.state, "requeue_case", flaky)
    monkeypatch.setattr(engine.stopping, "wait", lambda _s: False)  # no backoff in the test
    with Session(get_engine()) as session:
        case_id = _running_case(api, session)
        engine._requeue_after_error(case_id, "IDR-X", "engine error: boom")
        assert calls == [case_id, case_id]
        status, detail = _status(session, case_id)
        assert status == CaseStatus.queued and "engine error: boom" in detail
