"""The case lifecycle: the one owner of a case's status and of its steps' statuses.

A case is filed ``queued`` and its steps ``pending`` (the models' defaults, the rows
:func:`orchestrator.cases.service.create_case` inserts); every later change of either status
passes through one door, :func:`_move`, as one conditional ``UPDATE … WHERE id = :id AND
status IN (:allowed_from)``: a compare-and-set that reports whether the row moved. Who read a
case ``running`` and finds it ``cancelled`` when it writes loses, and leaves it as it is.

``CASE_MOVES`` and ``STEP_MOVES`` say, for each target status, the statuses it may be reached
from; a caller narrows that with ``from_`` (the status it read the row in), never widens it
(:class:`NotAllowed`). The sets that name groups of statuses are defined here, once, and
imported wherever they are read.

Callers: the engine (:mod:`orchestrator.engine.state`, ``flows``, ``executors``) moves a case
from ``queued`` to ``running`` and on to its end, and its steps; an approval decision
(:mod:`orchestrator.approvals.service`) moves a case waiting for it; a clerk's resume or cancel
(:mod:`orchestrator.cases.service`, through the API and the web pages) the others.

The ``move_*`` functions and :func:`update_case` write in the caller's transaction and do not
commit; :func:`write_step` and :func:`fail_step` are the engine's step writes, each committed
with the audit entry of the step's end.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col

from orchestrator.audit import events
from orchestrator.cases.models import Case, CaseStatus, CaseStep, StepStatus
from orchestrator.db import utcnow

# The case's statuses, by what they mean.

OPEN_CASE_STATUSES = frozenset(
    {CaseStatus.queued, CaseStatus.running, CaseStatus.awaiting_approval}
)
"""Under way: the engine, or a decision it waits for, moves the case on."""
WAITING_CASE_STATUSES = frozenset({CaseStatus.awaiting_approval})
"""Waiting for a person's decision; no process runs for the case meanwhile."""
ENDED_CASE_STATUSES = frozenset(
    {CaseStatus.completed, CaseStatus.failed, CaseStatus.rejected, CaseStatus.cancelled}
)
"""The engine has stopped with the case: nothing happens to it unless a person resumes a
failed one (what a page watching a case waits for)."""
CLOSED_CASE_STATUSES = frozenset({CaseStatus.completed, CaseStatus.rejected, CaseStatus.cancelled})
"""Final for good: no move leaves these (a failed case has ended but is not closed)."""
NOT_CLOSED_CASE_STATUSES = frozenset(set(CaseStatus) - CLOSED_CASE_STATUSES)
"""Open, or failed until a person resumes or cancels it."""
RESUMABLE_CASE_STATUSES = ENDED_CASE_STATUSES - CLOSED_CASE_STATUSES
"""A person may queue the case again from its failed step."""
CANCELLABLE_CASE_STATUSES = NOT_CLOSED_CASE_STATUSES
"""A person may cancel any case that is not closed."""
SETTLED_CASE_STATUSES = ENDED_CASE_STATUSES | WAITING_CASE_STATUSES
"""The engine has nothing to do on the case until a person acts (a client waits for these)."""

# The step's statuses, by what they mean.

IN_FLIGHT_STEP_STATUSES = frozenset({StepStatus.dispatched, StepStatus.running})
"""A node holds the step (placement counts these; a restarted engine waits on its task)."""
WORKABLE_STEP_STATUSES = frozenset(
    {StepStatus.pending, *IN_FLIGHT_STEP_STATUSES, StepStatus.failed}
)
"""The engine may work on the step: not started, in flight, or failed (a retry runs it again)."""
UNRUN_STEP_STATUSES = frozenset({StepStatus.pending, StepStatus.awaiting_approval})
"""Not run, and never to be once its case is rejected or cancelled."""
DONE_STEP_STATUSES = frozenset({StepStatus.succeeded, StepStatus.skipped})
"""The step has its outcome: a run of the case passes over it."""
ENDED_STEP_STATUSES = DONE_STEP_STATUSES | {
    StepStatus.failed,
    StepStatus.rejected,
    StepStatus.cancelled,
}
"""The step neither runs nor waits any more (a failed one until a retry or a resume)."""

# Allowed transitions: each target status, and the statuses it may be reached from.

CASE_MOVES: Mapping[CaseStatus, frozenset[CaseStatus]] = {
    # the engine backs off (or finds a case no thread runs), a decision approves, a person
    # resumes a failed case
    CaseStatus.queued: frozenset(
        {CaseStatus.running, CaseStatus.awaiting_approval, CaseStatus.failed}
    ),
    CaseStatus.running: frozenset({CaseStatus.queued}),  # the engine claims it
    CaseStatus.awaiting_approval: frozenset({CaseStatus.running}),  # the engine reaches one
    CaseStatus.completed: frozenset({CaseStatus.running}),
    CaseStatus.failed: frozenset({CaseStatus.running}),
    CaseStatus.rejected: frozenset({CaseStatus.awaiting_approval}),  # a decision rejects it
    CaseStatus.cancelled: CANCELLABLE_CASE_STATUSES,  # a person cancels it
}
STEP_MOVES: Mapping[StepStatus, frozenset[StepStatus]] = {
    # never sent (the broker was away), or failed and its case resumed
    StepStatus.pending: frozenset({StepStatus.dispatched, StepStatus.failed}),
    StepStatus.dispatched: WORKABLE_STEP_STATUSES,
    StepStatus.running: WORKABLE_STEP_STATUSES,  # again after an engine restart
    StepStatus.failed: WORKABLE_STEP_STATUSES,  # again on a retry
    StepStatus.skipped: WORKABLE_STEP_STATUSES,
    # a result is written once; an approval step succeeds by a decision
    StepStatus.succeeded: WORKABLE_STEP_STATUSES | {StepStatus.awaiting_approval},
    # opened again by an engine restarted before its case waited
    StepStatus.awaiting_approval: UNRUN_STEP_STATUSES,
    StepStatus.rejected: frozenset({StepStatus.awaiting_approval}),
    StepStatus.cancelled: UNRUN_STEP_STATUSES,
}

_STEPS = CaseStep.__table__  # type: ignore[attr-defined]
"""Steps are updated with Core statements on the table, not the ORM's bulk UPDATE (its
bookkeeping showed in the engine's profiles; a step's row is re-read with
``populate_existing`` wherever it is needed after a change)."""


class NotAllowed(ValueError):
    """A move the lifecycle does not allow from the statuses asked: a caller's mistake, not a
    race (a race is a move that reports ``False``)."""


class StepFailed(Exception):
    """A step ended without a usable result. ``kind`` (an ``agents.contract.ErrorKind``:
    timeout, node_error, invalid_output, model_unavailable, agent_error, tool_error) decides
    whether its retry policy tries again."""

    def __init__(self, message: str, kind: str = "agent_error") -> None:
        super().__init__(message)
        self.kind = kind


def _allowed_from(
    moves: Mapping[Any, frozenset[Any]], to: Any, from_: str | Collection[str] | None
) -> list[str]:
    allowed = moves[to]
    if from_ is None:
        return sorted(allowed)
    asked = {from_} if isinstance(from_, str) else set(from_)
    wanted = {type(to)(status) for status in asked}
    if not wanted <= allowed:
        raise NotAllowed(
            f"{to} is reached from {', '.join(sorted(allowed))}, not from "
            f"{', '.join(sorted(wanted - allowed))}"
        )
    return sorted(wanted)


def _move(
    session: Session,
    to: CaseStatus | StepStatus,
    from_: str | Collection[str] | None,
    where: Collection[ColumnElement[bool]],
    values: dict[str, Any],
) -> int:
    """The one door every status change passes through: the rows matching ``where`` that are
    in a status ``to`` may be reached from (those of ``from_``, when given) move to ``to``
    with ``values``. Returns how many moved."""
    if "status" in values:
        raise NotAllowed("the status is the target of the move, not one of its values")
    if isinstance(to, CaseStatus):
        allowed = _allowed_from(CASE_MOVES, to, from_)
        result = session.execute(
            update(Case)
            .where(*where, col(Case.status).in_(allowed))
            .values({"updated_at": utcnow(), **values, "status": to})
        )
    else:
        allowed = _allowed_from(STEP_MOVES, to, from_)
        session.flush()  # as the ORM would before a statement of its own: pending writes first
        result = session.connection().execute(
            update(_STEPS)
            .where(*where, _STEPS.c.status.in_(allowed))
            .values({**values, "status": to})
        )
    return int(result.rowcount)  # type: ignore[attr-defined]


def move_case(
    session: Session,
    case_id: str,
    to: CaseStatus | str,
    *,
    from_: str | Collection[str] | None = None,
    **values: Any,
) -> bool:
    """Move the case to ``to`` (with ``values``) only if it is in a status ``to`` may be reached
    from, or in ``from_`` (the status the caller read it in); returns whether it moved."""
    moved = _move(session, CaseStatus(to), from_, [col(Case.id) == case_id], values)
    return moved == 1


def move_cases(
    session: Session,
    to: CaseStatus | str,
    *where: ColumnElement[bool],
    from_: str | Collection[str] | None = None,
    **values: Any,
) -> int:
    """Move every case matching ``where`` that may move to ``to``; returns how many did."""
    return _move(session, CaseStatus(to), from_, where, values)


def update_case(session: Session, case_id: str, *, while_in: CaseStatus, **values: Any) -> bool:
    """Write other fields of a case (its status line, its task run) only while it is
    ``while_in``; returns whether it was. A case cancelled meanwhile is left as it is."""
    if "status" in values:
        raise NotAllowed("a status changes through move_case")
    result = session.execute(
        update(Case)
        .where(col(Case.id) == case_id, col(Case.status) == while_in)
        .values({"updated_at": utcnow(), **values})
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def move_step(
    session: Session,
    step_id: int,
    to: StepStatus | str,
    *,
    from_: str | Collection[str] | None = None,
    **values: Any,
) -> bool:
    """Move the step to ``to`` (with ``values``) only if it is in a status ``to`` may be reached
    from, or in ``from_``; returns whether it moved."""
    return _move(session, StepStatus(to), from_, [_STEPS.c.id == step_id], values) == 1


def move_steps(
    session: Session,
    case_id: str,
    to: StepStatus | str,
    *,
    from_: str | Collection[str] | None = None,
    **values: Any,
) -> int:
    """Move every step of the case that may move to ``to`` (or is in ``from_``); returns how
    many did."""
    return _move(session, StepStatus(to), from_, [_STEPS.c.case_id == case_id], values)


def write_step(
    session: Session,
    step_id: int,
    to: StepStatus | str | None = None,
    *,
    finished: bool = False,
    messages: list[dict[str, str]] | None = None,
    also: Callable[[Session], None] | None = None,
    **values: Any,
) -> bool:
    """The engine's write of a step, committed: moved to ``to`` (see :func:`move_step`), or,
    without ``to``, only other fields written. A ``finished`` step's end is recorded in the
    audit log in the same transaction (with its rendered prompt ``messages``, and whatever
    ``also`` records). A step that may not move is left as it is, and nothing is recorded:
    a result is written once. Returns whether the step was written."""
    if to is None:
        if "status" in values:
            raise NotAllowed("a status changes through a move, as write_step's 'to'")
        session.flush()
        statement = update(_STEPS).where(_STEPS.c.id == step_id).values(**values)
        written = session.connection().execute(statement).rowcount == 1
    else:
        written = move_step(session, step_id, to, **values)
    if not written:
        session.commit()
        return False
    ending = events.step_finished(session, step_id, messages=messages) if finished else None
    if also is not None:
        also(session)
    if ending is not None:
        ending.record(session)
    session.commit()
    return True


def fail_step(
    session: Session,
    step_id: int,
    kind: str,
    error: str,
    *,
    also: Callable[[Session], None] | None = None,
    **values: Any,
) -> StepFailed:
    """The one way a step fails: record it failed with ``error`` (and ``values``: where it ran,
    its attempts…) and its end in the audit log, committed; return the :class:`StepFailed` of
    ``kind`` that fails the case or retries the step, for the caller to raise."""
    write_step(
        session,
        step_id,
        StepStatus.failed,
        finished=True,
        also=also,
        error=error,
        **{"finished_at": utcnow(), **values},
    )
    return StepFailed(error, kind)
