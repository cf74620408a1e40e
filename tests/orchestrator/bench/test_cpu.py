"""CPU time per service, read from /proc by process group: what ``idara bench model`` prints."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from orchestrator.bench import cpu

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def test_a_service_is_counted_with_its_children_and_others_are_not() -> None:
    # a service whose child process burns 0.4 s of CPU while the service itself sleeps
    child = BURN.format(s=0.4) + "time.sleep(30)\n"
    parent = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}])\n"
    parent += "time.sleep(30)\n"
    busy = subprocess.Popen([sys.executable, "-c", parent], start_new_session=True)
    idle = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        groups = {"busy": busy.pid, "idle": idle.pid}
        deadline = time.monotonic() + 20
        used = cpu.group_cpu_s(groups)
        while used["busy"] < 0.4 and time.monotonic() < deadline:
            time.sleep(0.2)
            used = cpu.group_cpu_s(groups)
        assert 0.4 <= used["busy"] < 5
        assert used["idle"] < 0.3  # its interpreter's start-up only
        assert cpu.used_between({"busy": 0.5, "gone": 1.0}, {"busy": 0.75}) == {
            "busy": 0.25,
            "gone": 0.0,
        }
    finally:
        for group in (busy, idle):
            os.killpg(group.pid, signal.SIGKILL)
            group.wait()
