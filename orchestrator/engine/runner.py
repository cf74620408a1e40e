"""The engine process: claims due cases from the database and runs each in a thread, as one
Prefect task run (:func:`orchestrator.engine.flows.run_case`).

The database is the queue of record: a case is claimed only from there, so a case filed while
Redis or the engine was down is picked up as soon as the engine runs again.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from orchestrator.audit import checkpoints, events, payloads
from orchestrator.db import session_scope
from orchestrator.engine import state
from orchestrator.engine.deadlines import deadlines_flow
from orchestrator.engine.flows import run_case
from orchestrator.nodes import service as nodes
from orchestrator.settings import Settings

log = logging.getLogger(__name__)
AUDIT_CHECK_S = 5.0
PURGE_EVERY_S = 3600.0
NODE_CHECK_S = 2.0
ORPHAN_SWEEP_S = 15.0
REQUEUE_TRIES = 5


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=settings.engine_max_parallel_cases, thread_name_prefix="case"
        )
        self._running: dict[Future[None], str] = {}
        """Each case thread, with the id of the case it runs."""
        self._deadlines = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deadlines")
        self._deadlines_run: Future[None] | None = None
        self._next_deadline_check = 0.0
        self._next_audit_check = 0.0
        self._next_purge = 0.0
        self._next_node_check = 0.0
        self._next_orphan_sweep = time.monotonic() + ORPHAN_SWEEP_S

    def recover(self) -> int:
        with session_scope() as session:
            count = state.requeue_orphans(session)
        if count:
            log.warning("requeued %d case(s) left running by a previous engine", count)
        return count

    def tick(self) -> int:
        """Claim as many due cases as there are free slots; return how many were started."""
        self._running = {f: case_id for f, case_id in self._running.items() if not f.done()}
        free = self.settings.engine_max_parallel_cases - len(self._running)
        if free <= 0:
            return 0
        with session_scope() as session:
            claimed = state.claim_due_cases(session, free)
        for case_id, reference in claimed:
            self._running[self._pool.submit(self._run_case, case_id, reference)] = case_id
        return len(claimed)

    def sweep_orphans(self) -> int:
        """Requeue the cases marked running that none of this engine's threads runs: a thread
        that ended without settling its case (its requeue failed while the database was away)
        must not leave the case stuck until the next engine start."""
        now = time.monotonic()
        if now < self._next_orphan_sweep:
            return 0
        self._next_orphan_sweep = now + ORPHAN_SWEEP_S
        running_here = {case_id for f, case_id in self._running.items() if not f.done()}
        with session_scope() as session:
            count = state.requeue_orphans(
                session, running_here, "requeued: the engine thread running it had ended"
            )
        if count:
            log.warning("requeued %d running case(s) that no engine thread ran", count)
        return count

    def check_deadlines_when_due(self) -> None:
        """Start the deadlines flow every ``deadline_check_s``, never two at once."""
        now = time.monotonic()
        if now < self._next_deadline_check:
            return
        if self._deadlines_run is not None and not self._deadlines_run.done():
            return
        self._next_deadline_check = now + self.settings.deadline_check_s
        self._deadlines_run = self._deadlines.submit(self._check_deadlines)

    def keep_audit_log(self) -> None:
        """Sign a checkpoint when one is due; delete expired personal data once an hour."""
        now = time.monotonic()
        if now < self._next_audit_check:
            return
        self._next_audit_check = now + AUDIT_CHECK_S
        with session_scope() as session:
            checkpoints.create_when_due(session, self.settings)
            if now >= self._next_purge:
                self._next_purge = now + PURGE_EVERY_S
                count = payloads.purge_expired(session, events.SYSTEM)
                if count:
                    log.warning("audit: deleted %d payload(s) past their retention", count)

    def watch_nodes(self) -> None:
        """Mark ``not_ready`` the nodes whose heartbeats stopped (an audit entry each)."""
        now = time.monotonic()
        if now < self._next_node_check:
            return
        self._next_node_check = now + NODE_CHECK_S
        with session_scope() as session:
            missing = nodes.mark_missing(session, self.settings)
            session.commit()
        for name in missing:
            log.warning("node %s is not ready: its heartbeats stopped", name)

    def _check_deadlines(self) -> None:
        try:
            counts = deadlines_flow()
            if any(counts.values()):
                log.warning("deadlines: %s", counts)
        except Exception:
            log.exception("deadlines flow failed; it runs again at the next interval")

    def _run_case(self, case_id: str, reference: str) -> None:
        try:
            run_case(case_id, reference)
        except Exception as exc:  # the case's run could not start or ended in an error
            log.exception("case %s: engine error", reference)
            self._requeue_after_error(case_id, reference, f"engine error: {exc}")

    def _requeue_after_error(self, case_id: str, reference: str, reason: str) -> None:
        """Requeue, retrying while the database is away; after the last try the orphan sweep
        requeues it. Nothing fails silently in a case thread."""
        for attempt in range(1, REQUEUE_TRIES + 1):
            try:
                with session_scope() as session:
                    state.requeue_case(session, case_id, reason)
                return
            except Exception:
                log.exception("case %s: could not requeue it (try %d)", reference, attempt)
                if self.stopping.wait(min(2**attempt, 10)):
                    return

    def run_forever(self) -> None:
        self.recover()
        log.warning(
            "engine started: polling every %.2f s, %d case(s) at a time",
            self.settings.engine_poll_s,
            self.settings.engine_max_parallel_cases,
        )
        while not self.stopping.is_set():
            try:
                self.tick()
                self.check_deadlines_when_due()
                self.keep_audit_log()
                self.watch_nodes()
                self.sweep_orphans()
            except Exception:
                log.exception("engine tick failed; retrying")
            self.stopping.wait(self.settings.engine_poll_s)
        log.warning("engine stopping: waiting for %d running case(s)", len(self._running))
        self._pool.shutdown(wait=True)
        self._deadlines.shutdown(wait=True)
        try:  # what the stopped engine wrote gets signed now
            with session_scope() as session:
                checkpoints.create(session, self.settings)
        except Exception:
            log.exception("audit: no checkpoint at stop; the next engine or export signs one")
