"""``idara bench model`` end to end, as the CI's ratio check: the real stack and model,
a few cases, and bounds on ratios measured in the same run (never on an absolute time)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from orchestrator.settings import REPO_ROOT
from tests.conftest import free_port

pytestmark = pytest.mark.slow

IDARA = REPO_ROOT / ".venv" / "bin" / "idara"
MODEL_BUSY_FLOOR = 0.85
"""The model at work at least 85% of the platform's time: measured 96.7-97.7% here with 4
cases. Both terms come from one run of one stack, so the machine's speed cancels out."""
PLATFORM_OVER_RAW_FLOOR = 0.6
"""Measured 0.79-0.90 here with 4 cases, and 0.7475 once in CI: the platform and the raw
replay run one after the other, so the machine's speed between them moves this ratio
(docs/benchmarks.md). Below 0.6 the platform costs its model 40% of its speed."""


def explain(figures: dict[str, Any]) -> str:
    """What a failed bound needs to be understood: both sides' model time, and who else used
    the CPU meanwhile."""
    return json.dumps(
        {
            "platform_over_raw": figures["platform_over_raw"],
            "platform": figures["platform"],
            "raw": figures["raw"],
            "cpu_s_all_at_once": figures["cpu_s_all_at_once"],
            "latency": figures["latency"],
        },
        indent=1,
    )


def test_the_platform_is_measured_against_raw_llama_cpp_in_one_run(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDARA_", "PREFECT_"))}
    env |= {
        "IDARA_DATA_DIR": str(tmp_path / "data"),
        "IDARA_API_PORT": str(free_port()),
        "IDARA_REDIS_PORT": str(free_port()),
        "IDARA_PREFECT_PORT": str(free_port()),
        "IDARA_NODE_METRICS_PORT": str(free_port()),
    }
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [str(IDARA), "bench", "model", "--cases", "4", "--one-at-a-time", "3", "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "platform ÷ raw" in done.stdout
    figures = json.loads(out.read_text())
    assert figures["agent_steps"] == 4 * 3  # classify, extract, draft per triage case
    assert figures["platform"]["tokens"] > 0 and figures["raw"]["tokens"] > 0
    # greedy decoding of the same prompts by the same model: the same work on both sides
    assert figures["raw_steps_with_same_token_count"] == figures["agent_steps"]
    assert MODEL_BUSY_FLOOR <= figures["platform"]["model_busy_share"] <= 1, explain(figures)
    assert figures["platform_over_raw"] >= PLATFORM_OVER_RAW_FLOOR, explain(figures)
    assert figures["cpu_s_all_at_once"]["engine"] > 0, explain(figures)
    # the third lone case starts each step from its agent's kept prefix (learned from the first
    # two), with the answers the plain replay gives
    kept = figures["kept_prefixes"]
    assert kept["steps"] == 3 * 3 and kept["reused_tokens"] > 0, kept
    assert kept["same_outputs"] == kept["steps"], kept
    latency = figures["latency"]
    assert 0 < latency["p50_s"] <= latency["p95_s"]
    assert 0 < latency["outside_model_share"] < 1
    print(json.dumps(figures, indent=2))
