"""``idara bench`` arguments and the benchmark stack's shape, without starting a stack."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import app
from orchestrator.settings import Settings
from orchestrator.stack import Stack

runner = CliRunner()


@pytest.mark.parametrize("counts", ["", "0,2", "1,x", "1,17"])
def test_scaling_refuses_counts_it_cannot_run_and_says_what_to_give(counts: str) -> None:
    done = runner.invoke(app, ["bench", "scaling", "--counts", counts])
    assert done.exit_code == 2
    assert "whole numbers from 1 to 16" in done.output


def test_a_stack_of_several_nodes_names_them_and_gives_each_its_metrics_port() -> None:
    stack = Stack(Settings(node_name="bench", node_metrics_port=9500), nodes=3)
    assert stack.node_names == ["bench", "bench-2", "bench-3"]
    assert [stack._metrics_port(i) for i in (1, 2, 3)] == [9500, 9501, 9502]


def test_nodes_metrics_stay_off_for_all_when_off() -> None:
    stack = Stack(Settings(node_name="bench", node_metrics_port=0), nodes=2)
    assert [stack._metrics_port(i) for i in (1, 2)] == [0, 0]
