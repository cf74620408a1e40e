"""The deadlines flow: escalate overdue approvals, flag overdue cases.

The engine runs it every ``deadline_check_s`` seconds (it is the flow's scheduler, which spares
a Prefect scheduler service and a serve process); each run is a Prefect flow run, visible in
Prefect with its counts. ``now`` can be given to check a moment other than the present.
"""

from __future__ import annotations

from datetime import datetime

from prefect import flow

from orchestrator.approvals import service as approvals
from orchestrator.db import session_scope, utcnow


def check_deadlines(now: datetime | None = None) -> dict[str, int]:
    moment = now or utcnow()
    with session_scope() as session:
        escalated, overdue_approvals = approvals.escalate_overdue(session, moment)
        overdue_cases = approvals.mark_overdue_cases(session, moment)
    return {
        "escalated": escalated,
        "overdue_approvals": overdue_approvals,
        "overdue_cases": overdue_cases,
    }


deadlines_flow = flow(name="deadlines", log_prints=False, validate_parameters=False)(
    check_deadlines
)
