"""The case lifecycle (``orchestrator.cases.lifecycle``): the moves it allows and refuses, its
compare-and-set losing a race, the one way a step fails, and a scan of ``orchestrator/`` that
fails when a module other than the lifecycle writes a case's or a step's status."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from orchestrator.audit.models import AuditEntry
from orchestrator.cases import lifecycle
from orchestrator.cases.lifecycle import NotAllowed, StepFailed
from orchestrator.cases.models import Case, CaseStatus, CaseStep, StepStatus
from orchestrator.db import get_engine, session_scope
from orchestrator.engine import state

ORCHESTRATOR = Path(__file__).resolve().parents[3] / "orchestrator"
LIFECYCLE = ORCHESTRATOR / "cases" / "lifecycle.py"


def _file(api: TestClient) -> str:
    body = {"procedure": "citizen-request-triage", "text": "Une demande.", "language": "fr"}
    response = api.post("/api/v1/cases", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _status(case_id: str) -> str:
    with Session(get_engine()) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.status


def _steps(case_id: str) -> list[CaseStep]:
    with Session(get_engine()) as session:
        rows = session.exec(
            select(CaseStep).where(CaseStep.case_id == case_id).order_by(col(CaseStep.position))
        ).all()
        for row in rows:
            session.expunge(row)
        return list(rows)


def _ends_recorded(case_id: str) -> int:
    with Session(get_engine()) as session:
        query = select(func.count()).where(
            AuditEntry.case_id == case_id, AuditEntry.kind == "step.finished"
        )
        return int(session.exec(query).one())


# The tables


def test_every_status_has_its_moves_and_a_closed_case_is_never_left() -> None:
    assert set(lifecycle.CASE_MOVES) == set(CaseStatus)
    assert set(lifecycle.STEP_MOVES) == set(StepStatus)
    for to, allowed in lifecycle.CASE_MOVES.items():
        assert not allowed & lifecycle.CLOSED_CASE_STATUSES, to
        assert to not in allowed, f"{to} is not a move from itself"
    for to, allowed in lifecycle.STEP_MOVES.items():
        left_by_nothing = {StepStatus.succeeded, StepStatus.skipped, StepStatus.rejected}
        assert not allowed & (left_by_nothing | {StepStatus.cancelled}), to
    assert StepStatus.succeeded not in lifecycle.STEP_MOVES[StepStatus.succeeded]


def test_the_two_kinds_of_final_have_two_names() -> None:
    everything = set(CaseStatus)
    assert everything - lifecycle.OPEN_CASE_STATUSES == lifecycle.ENDED_CASE_STATUSES
    assert lifecycle.CLOSED_CASE_STATUSES < lifecycle.ENDED_CASE_STATUSES
    assert {CaseStatus.failed} == lifecycle.RESUMABLE_CASE_STATUSES
    assert everything - lifecycle.CLOSED_CASE_STATUSES == lifecycle.NOT_CLOSED_CASE_STATUSES
    assert lifecycle.CASE_MOVES[CaseStatus.cancelled] == lifecycle.CANCELLABLE_CASE_STATUSES
    assert (
        lifecycle.ENDED_CASE_STATUSES | {CaseStatus.awaiting_approval}
    ) == lifecycle.SETTLED_CASE_STATUSES
    assert lifecycle.DONE_STEP_STATUSES < lifecycle.ENDED_STEP_STATUSES
    assert lifecycle.IN_FLIGHT_STEP_STATUSES < lifecycle.WORKABLE_STEP_STATUSES


# Moves on a database


def test_an_allowed_move_moves_the_case_and_stamps_it(api: TestClient) -> None:
    case_id = _file(api)
    with session_scope() as session:
        before = session.get(Case, case_id)
        assert before is not None and before.status == CaseStatus.queued
        filed_at = before.updated_at
        moved = lifecycle.move_case(session, case_id, CaseStatus.running, status_detail="go")
        session.commit()
    assert moved
    with session_scope() as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.status_detail) == (CaseStatus.running, "go")
        assert case.updated_at >= filed_at
        assert lifecycle.move_case(session, case_id, "completed")  # a status as text too
        session.commit()
    assert _status(case_id) == CaseStatus.completed


def test_a_move_from_a_status_it_may_not_leave_is_refused(api: TestClient) -> None:
    case_id = _file(api)
    with session_scope() as session:
        assert not lifecycle.move_case(session, case_id, CaseStatus.completed)  # not running
        assert not lifecycle.move_case(session, case_id, CaseStatus.rejected)  # not waiting
        assert lifecycle.move_case(session, case_id, CaseStatus.cancelled)
        session.commit()
    with session_scope() as session:
        for to in set(CaseStatus) - {CaseStatus.cancelled}:
            assert not lifecycle.move_case(session, case_id, to), f"a cancelled case moved to {to}"
        session.commit()
    assert _status(case_id) == CaseStatus.cancelled


def test_a_move_from_outside_its_allowed_statuses_is_a_mistake(api: TestClient) -> None:
    case_id = _file(api)
    with session_scope() as session:
        with pytest.raises(NotAllowed, match="completed is reached from running, not from queued"):
            lifecycle.move_case(session, case_id, CaseStatus.completed, from_=CaseStatus.queued)
        with pytest.raises(NotAllowed):
            lifecycle.move_case(session, case_id, CaseStatus.running, status=CaseStatus.failed)
        with pytest.raises(NotAllowed):
            lifecycle.update_case(session, case_id, while_in=CaseStatus.queued, status="failed")
        with pytest.raises(NotAllowed):
            lifecycle.write_step(session, 1, None, status=StepStatus.failed)
    assert _status(case_id) == CaseStatus.queued


def test_the_compare_and_set_loses_a_race(api: TestClient) -> None:
    """Two writers read the case queued; the one that writes second finds it moved, and
    changes nothing."""
    case_id = _file(api)
    with Session(get_engine()) as engine, Session(get_engine()) as clerk:
        read = engine.exec(select(Case.status).where(Case.id == case_id)).one()
        assert clerk.exec(select(Case.status).where(Case.id == case_id)).one() == read
        assert lifecycle.move_case(clerk, case_id, CaseStatus.cancelled, from_=read)
        clerk.commit()
        assert not lifecycle.move_case(engine, case_id, CaseStatus.running, from_=read)
        engine.commit()
    assert _status(case_id) == CaseStatus.cancelled


def test_the_engine_leaves_a_case_cancelled_while_it_ran(api: TestClient) -> None:
    case_id = _file(api)
    with session_scope() as session:
        assert [claimed for claimed, _ in state.claim_due_cases(session, 10)] == [case_id]
        assert state.claim_due_cases(session, 10) == []  # claimed once
    with session_scope() as session:
        assert lifecycle.move_case(session, case_id, CaseStatus.cancelled, from_="running")
        session.commit()
    with session_scope() as session:
        assert not state.set_case(session, case_id, status_detail="step classify: running")
        state.complete_case(session, case_id)
        assert state.requeue_orphans(session) == 0
    assert _status(case_id) == CaseStatus.cancelled


def test_orphans_go_back_to_the_queue_but_those_running_here(api: TestClient) -> None:
    mine, orphan = _file(api), _file(api)
    with session_scope() as session:
        assert len(state.claim_due_cases(session, 10)) == 2
        assert state.requeue_orphans(session, [mine], "requeued: no thread") == 1
    assert (_status(mine), _status(orphan)) == (CaseStatus.running, CaseStatus.queued)


def test_a_step_result_is_written_once(api: TestClient) -> None:
    case_id = _file(api)
    first = _steps(case_id)[0]
    assert first.id is not None
    with session_scope() as session:
        assert lifecycle.write_step(session, first.id, StepStatus.dispatched, queue="node.a")
        assert lifecycle.write_step(session, first.id, StepStatus.running)
        output = {"department": "civil-status"}
        assert lifecycle.write_step(
            session, first.id, StepStatus.succeeded, finished=True, output=output
        )
        assert not lifecycle.write_step(
            session, first.id, StepStatus.succeeded, finished=True, output={"department": "x"}
        )
        assert not lifecycle.write_step(session, first.id, StepStatus.running)
    step = _steps(case_id)[0]
    assert (step.status, step.output, step.queue) == (StepStatus.succeeded, output, "node.a")
    assert _ends_recorded(case_id) == 1


def test_a_step_fails_one_way_and_a_retry_may_fail_it_again(api: TestClient) -> None:
    case_id = _file(api)
    first = _steps(case_id)[0]
    assert first.id is not None
    with session_scope() as session:
        failed = lifecycle.fail_step(session, first.id, "timeout", "step classify: no reply")
        again = lifecycle.fail_step(session, first.id, "node_error", "crashed", node="n1")
    assert isinstance(failed, StepFailed)
    assert (str(failed), failed.kind) == ("step classify: no reply", "timeout")
    assert (str(again), again.kind) == ("crashed", "node_error")
    step = _steps(case_id)[0]
    assert (step.status, step.error, step.node) == (StepStatus.failed, "crashed", "n1")
    assert step.finished_at is not None
    assert _ends_recorded(case_id) == 2


def test_a_resume_and_a_cancel_move_only_the_steps_they_concern(api: TestClient) -> None:
    case_id = _file(api)
    classify, extract, draft, approve, deliver = (s.id for s in _steps(case_id))
    assert classify and extract and draft and approve and deliver
    with session_scope() as session:
        lifecycle.write_step(session, classify, StepStatus.succeeded)
        lifecycle.fail_step(session, extract, "agent_error", "bad")
        lifecycle.write_step(session, approve, StepStatus.awaiting_approval)
    with session_scope() as session:
        resumed = lifecycle.move_steps(
            session, case_id, StepStatus.pending, from_=StepStatus.failed, error=None
        )
        assert resumed == 1
        assert lifecycle.move_steps(session, case_id, StepStatus.cancelled) == 4
        assert not lifecycle.move_step(session, approve, StepStatus.succeeded)  # cancelled
        session.commit()
    statuses = [(s.status, s.error) for s in _steps(case_id)]
    assert statuses == [(StepStatus.succeeded, None)] + [(StepStatus.cancelled, None)] * 4


# Nothing but the lifecycle writes a case's or a step's status

STATUS_ENUMS = {"CaseStatus", "StepStatus"}
LIFECYCLE_TARGETS = {"Case", "CaseStep", "_STEPS", "cases", "case_steps"}
"""The models (and the names their tables go by) whose status the lifecycle owns."""
OTHER_STATUS_MODELS = {"Approval"}
"""The other models with a ``status`` column, exempt by name: an approval's status is its
decision, :mod:`orchestrator.approvals.service`'s own."""
STATUS_VALUES = {s.value for s in CaseStatus} | {s.value for s in StepStatus}
RAW_UPDATE = re.compile(r"\bUPDATE\s+(cases|case_steps)\b.*\bSET\b.*\bstatus\b", re.I | re.S)


def _name(node: ast.expr) -> str:
    """The name an expression goes by: ``Case``, ``CaseStep`` for ``CaseStep.__table__``."""
    if isinstance(node, ast.Attribute):
        return _name(node.value) if node.attr == "__table__" else node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def _is_status_member(node: ast.expr) -> bool:
    if isinstance(node, ast.Call):  # CaseStatus("failed")
        return _name(node.func) in STATUS_ENUMS
    return isinstance(node, ast.Attribute) and _name(node.value) in STATUS_ENUMS


def _names_a_status(node: ast.expr) -> bool:
    """The value is a case's or step's status: a member, or its text."""
    if isinstance(node, ast.Constant):
        return node.value in STATUS_VALUES
    return _is_status_member(node)


def _of_a_case_or_step(owner: ast.expr, value: ast.expr) -> bool:
    """``owner.status = value`` sets a case's or a step's status: the owner's name says so or
    the value is such a status; an approval's is exempt."""
    name = _name(owner).lower()
    if "approval" in name:
        return False
    return "case" in name or "step" in name or _names_a_status(value)


def _update_target(call: ast.Call) -> ast.expr | None:
    """What ``update(X).where(…).values(…)`` (or ``insert``) writes to: ``X``."""
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute):
        node = node.value
        if isinstance(node, ast.Call):
            if _name(node.func) in {"update", "insert"} and node.args:
                return node.args[0]
            node = node.func
    return None


def _writes_status(call: ast.Call) -> bool:
    """The call's arguments set a ``status``: a keyword, or a key of a dict it is given."""
    if any(keyword.arg == "status" for keyword in call.keywords):
        return True
    return any(
        isinstance(arg, ast.Dict)
        and any(isinstance(key, ast.Constant) and key.value == "status" for key in arg.keys)
        for arg in call.args
    )


def status_writes(source: str, where: str) -> list[str]:
    """Each place ``source`` writes a case's or a step's status, as ``where:line: what``."""
    found: list[str] = []

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            for target in targets:
                for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if not (isinstance(item, ast.Attribute) and item.attr == "status"):
                        continue
                    if value is not None and _of_a_case_or_step(item.value, value):
                        say(node, f"assigns {ast.unparse(item)}")
        elif isinstance(node, ast.Call):
            callee = _name(node.func)
            if callee == "setattr" and len(node.args) == 3:
                owner, attr, value = node.args
                is_status = isinstance(attr, ast.Constant) and attr.value == "status"
                if is_status and _of_a_case_or_step(owner, value):
                    say(node, f"setattr({ast.unparse(owner)}, 'status', …)")
            elif callee in {"Case", "CaseStep"} and _writes_status(node):
                say(node, f"builds a {callee} with a status (the model's default is the start)")
            elif callee == "values" and _writes_status(node):
                target = _update_target(node)
                table = _name(target) if target is not None else ""
                if table not in OTHER_STATUS_MODELS:
                    say(node, f"{ast.unparse(target) if target else '?'}: .values(status=…)")
            elif any(k.arg == "status" and _is_status_member(k.value) for k in node.keywords):
                say(node, f"{ast.unparse(node.func)}(status=…)")
        elif isinstance(node, ast.Constant) and RAW_UPDATE.search(str(node.value)):
            say(node, "a raw UPDATE of a status")
    return found


def status_groups(source: str, where: str) -> list[str]:
    """Each collection of case or step statuses ``source`` spells out, as members or as their
    text (a group of statuses the lifecycle should name once; a client comparing the API's
    text takes ``{s.value for s in …}`` of the lifecycle's set)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Set, ast.List, ast.Tuple)) or len(node.elts) < 2:
            continue
        if all(_names_a_status(element) for element in node.elts):
            found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
    return found


def _modules() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ORCHESTRATOR.parent)), path.read_text(encoding="utf-8"))
        for path in sorted(ORCHESTRATOR.rglob("*.py"))
        if path != LIFECYCLE
    ]


def test_only_the_lifecycle_writes_a_case_or_step_status() -> None:
    found = [line for where, source in _modules() for line in status_writes(source, where)]
    assert found == [], "a status changes outside orchestrator/cases/lifecycle.py:\n" + "\n".join(
        found
    )


def test_only_the_lifecycle_groups_statuses() -> None:
    found = [line for where, source in _modules() for line in status_groups(source, where)]
    assert found == [], "import the set from orchestrator/cases/lifecycle.py:\n" + "\n".join(found)


def test_the_lifecycle_itself_is_seen_writing_statuses() -> None:
    """The scan sees the lifecycle's own writes (it would see them anywhere else)."""
    assert status_writes(LIFECYCLE.read_text(encoding="utf-8"), "lifecycle.py")


@pytest.mark.parametrize(
    "line",
    [
        "case.status = CaseStatus.failed",
        "step.status = 'failed'",
        "row.status = StepStatus.running",
        "run.case.status = new",
        "setattr(case, 'status', 'queued')",
        "session.execute(update(Case).where(Case.id == i).values(status=to))",
        "update(_STEPS).where(_STEPS.c.id == i).values(status=to, error=None)",
        "update(CaseStep.__table__).values({'status': 'pending'})",
        "update(Unknown).values(status='x')",
        "Case(id='1', status=CaseStatus.queued)",
        "state.set_step(session, i, status=StepStatus.failed)",
        "text('UPDATE case_steps SET error = NULL, status = :s')",
    ],
)
def test_the_scan_finds_a_status_write(line: str) -> None:
    assert status_writes(line, "x.py"), line


@pytest.mark.parametrize(
    "line",
    [
        "response.status_code = 404",
        "node.status = 'ready'",
        "self.status = 200",
        "approval.status = ApprovalStatus.rejected",
        "update(Approval).where(Approval.id == i).values(status=ApprovalStatus.cancelled)",
        "update(Case).values(status_detail='x', overdue=True)",
        "page.render('error.html', status=exc.status_code)",
        "Conflict('changed meanwhile', status=case.status)",
        "select(Case).where(Case.status == CaseStatus.queued)",
    ],
)
def test_the_scan_leaves_other_statuses_alone(line: str) -> None:
    assert status_writes(line, "x.py") == [], line


@pytest.mark.parametrize(
    "line",
    [
        "OPEN = (CaseStatus.queued, CaseStatus.running)",
        "if step.status in {StepStatus.dispatched, StepStatus.running}: pass",
        "TERMINAL = {'completed', 'failed', 'rejected', 'cancelled'}",
        "DONE = frozenset(['succeeded', 'skipped'])",
        "where(col(Case.status).in_([CaseStatus.failed, 'cancelled']))",
    ],
)
def test_the_scan_finds_a_group_of_statuses(line: str) -> None:
    assert status_groups(line, "x.py"), line


@pytest.mark.parametrize(
    "line",
    [
        "SETTLED = frozenset(s.value for s in SETTLED_CASE_STATUSES)",
        "x = {CaseStatus.failed}",
        "colour = {'completed': 'green', 'failed': 'red'}",
        "STATES = ('ready', 'not_ready', 'cordoned', 'draining', 'drained')",
        "pair = ('running', 'ready')",
        "f(CaseStatus.queued, CaseStatus.running)",
    ],
)
def test_the_scan_leaves_other_groups_alone(line: str) -> None:
    assert status_groups(line, "x.py") == [], line
