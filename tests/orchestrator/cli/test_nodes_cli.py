"""``idara nodes`` on the control plane's database and ``idara node start``'s refusals: what
ops type, and the clear error a node gives when it cannot join."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from orchestrator.cli import nodes
from orchestrator.cli.main import app as cli
from orchestrator.settings import get_settings
from tests.conftest import free_port

runner = CliRunner()


def idara(*args: str) -> Result:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_ops_make_a_join_token_a_node_registers_and_ops_cordon_it(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nodes.console, "width", 200)  # a wide terminal: one line per node
    made = idara("nodes", "join-token", "create", "--label", "rack-3")
    assert made.exit_code == 0, made.output
    token = re.search(r"idara_[0-9a-f]{12}_\S{43}", made.output)
    assert token is not None
    assert "no node has registered yet" in idara("nodes", "list").output
    body: dict[str, Any] = {"name": "gpu-1", "models": ["smollm2-135m"], "labels": {"gpu": "true"}}
    headers = {"Authorization": f"Bearer {token.group(0)}"}
    assert api.post("/api/v1/nodes/register", json=body, headers=headers).status_code == 200
    listed = idara("nodes", "list").output
    assert "gpu-1" in listed and "ready" in listed and "smollm2-135m" in listed
    assert idara("nodes", "cordon", "gpu-1").exit_code == 0
    assert "cordoned" in idara("nodes", "list").output
    unknown = idara("nodes", "drain", "ghost")
    assert unknown.exit_code == 1 and "no node 'ghost'" in unknown.output
    tokens = idara("nodes", "join-token", "list").output
    assert "rack-3" in tokens and token.group(0) not in tokens


def test_a_node_that_cannot_join_or_serve_says_why_and_exits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDARA_JOIN_TOKEN", raising=False)
    monkeypatch.setenv("IDARA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IDARA_NODE_REGISTER_TIMEOUT_S", "1")
    for name in ("MODEL_MANIFEST", "MODEL_DIR", "OPS_KEY_FILE", "MODEL_VERIFIER_KEYS"):
        monkeypatch.delenv(f"IDARA_{name}", raising=False)
    get_settings.cache_clear()
    away = f"http://127.0.0.1:{free_port()}"
    token = "idara_000000000000_" + "x" * 43
    try:
        missing = idara("node", "start", "--control-plane", away)
        assert missing.exit_code == 1 and "a join token is needed" in missing.output
        no_catalogue = idara("node", "start", "--control-plane", away, "--join-token", token)
        assert no_catalogue.exit_code == 1
        assert "the model catalogue does not verify" in no_catalogue.output
        assert idara("models", "init").exit_code == 0
        unknown = idara(
            "node", "start", "--control-plane", away, "--join-token", token, "--models", "nope"
        )
        assert unknown.exit_code == 1 and "not in the model catalogue" in unknown.output
        unreachable = idara("node", "start", "--control-plane", away, "--join-token", token)
        assert unreachable.exit_code == 1
        assert "cannot register with the control plane" in unreachable.output
    finally:
        get_settings.cache_clear()
