"""CPU time used by each service of a stack, read from ``/proc``.

On a node the model's threads want every core; whatever else the platform runs at the same
time (engine, Prefect, API, database, Redis) takes cores from it. Each service is started in
its own session, so its process group holds it and its children (Celery's pool, uvicorn's
workers)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def group_cpu_s(groups: dict[str, int]) -> dict[str, float]:
    """User plus system CPU seconds of the processes now in each named process group.
    A process that ended before the reading is not counted: read while the stack runs."""
    by_group = dict.fromkeys(groups, 0.0)
    names = {pgid: name for name, pgid in groups.items()}
    for fields in _stats(PROC.glob("[0-9]*/stat")):
        name = names.get(int(fields[2]))  # fields after the command: state, ppid, pgrp…
        if name is not None:
            by_group[name] += (int(fields[11]) + int(fields[12])) / TICKS_PER_S
    return by_group


def _stats(paths: Iterable[Path]) -> Iterable[list[str]]:
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue  # the process ended while we read
        # the command, in parentheses, may hold spaces: split what follows its last ")"
        yield text[text.rindex(")") + 2 :].split()


def used_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: max(0.0, after.get(name, 0.0) - spent) for name, spent in before.items()}
