"""Which of the Prefect server's services run: only the task run recorder.

Each case run is a Prefect task run called outside any flow (see
:func:`orchestrator.engine.flows.run_case`); such a run reaches the server only as state
events, and the task run recorder is the service that turns them into task runs. The others
(scheduler, late runs, automations, event persister…) serve features idara does not use, and
cost CPU. Every way of starting the server sets these variables: ``idara up`` and the tests
(``orchestrator/stack.py``), systemd, compose and Helm (checked in ``tests/deploy``).
"""

from __future__ import annotations

RECORDER = "TASK_RUN_RECORDER"
_ALL = (
    "CANCELLATION_CLEANUP",
    "EVENT_PERSISTER",
    "EVENT_LOGGER",
    "FOREMAN",
    "LATE_RUNS",
    "SCHEDULER",
    "PAUSE_EXPIRATIONS",
    "REPOSSESSOR",
    "CLEANUP_RECONCILER",
    RECORDER,
    "TRIGGERS",
)
ENV = {
    f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "true" if name == RECORDER else "false"
    for name in _ALL
}
