"""The node registry through the API: join tokens, registration, heartbeats, cordon and drain
that survive restarts, not_ready after missed heartbeats, and who may do what."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from orchestrator.auth import users
from orchestrator.db import get_engine, session_scope, utcnow
from orchestrator.nodes import service
from orchestrator.nodes.models import Node
from orchestrator.settings import get_settings
from tests.orchestrator.conftest import NOBODY, as_user

OPS = "nadia"


def _join_token() -> tuple[str, dict[str, str]]:
    with Session(get_engine()) as session:
        row, token = service.create_join_token(session, "rack-3", "test")
        token_id = row.id
        session.commit()
    return token_id, {"Authorization": f"Bearer {token}"}


def _register(api: TestClient, node: dict[str, str], name: str, **extra: Any) -> Any:
    body = {
        "name": name,
        "labels": {"site": "rabat"},
        "models": ["smollm2-135m"],
        "concurrency": 2,
        "facts": {"cpu_cores": 2},
        **extra,
    }
    return api.post("/api/v1/nodes/register", json=body, headers=node)


def _listed(api: TestClient) -> dict[str, dict[str, Any]]:
    answer = api.get("/api/v1/nodes", headers=as_user(OPS))
    assert answer.status_code == 200, answer.text
    return {node["name"]: node for node in answer.json()}


def _age(name: str, seconds: float) -> None:
    with Session(get_engine()) as session:
        node = session.get(Node, name)
        assert node is not None
        node.last_heartbeat_at = utcnow() - timedelta(seconds=seconds)
        session.add(node)
        session.commit()


def _kinds() -> list[str]:
    with session_scope() as session:
        return list(session.execute(text("SELECT kind FROM audit_entries ORDER BY seq")).scalars())


def test_a_node_registers_heartbeats_and_ops_see_it(api: TestClient) -> None:
    _, node = _join_token()
    answer = _register(api, node, "gpu-1", pool="default")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"schedule": "active", "heartbeat_s": 5.0}
    listed = _listed(api)["gpu-1"]
    assert listed["state"] == "ready" and listed["labels"] == {"site": "rabat"}
    assert listed["models"] == ["smollm2-135m"] and listed["facts"]["cpu_cores"] == 2
    beat = api.post("/api/v1/nodes/gpu-1/heartbeat", json={"running": 2}, headers=node)
    assert beat.json()["schedule"] == "active"
    assert _listed(api)["gpu-1"]["running"] == 2
    assert "node.registered" in _kinds()


def test_cordon_and_drain_survive_a_restart_of_the_node(api: TestClient) -> None:
    _, node = _join_token()
    _register(api, node, "cpu-1")
    cordoned = api.post("/api/v1/nodes/cpu-1/cordon", headers=as_user(OPS))
    assert cordoned.status_code == 200 and cordoned.json()["state"] == "cordoned"
    again = _register(api, node, "cpu-1")  # the node restarted
    assert again.json()["schedule"] == "cordoned"
    api.post("/api/v1/nodes/cpu-1/drain", headers=as_user(OPS))
    api.post("/api/v1/nodes/cpu-1/heartbeat", json={"running": 1}, headers=node)
    assert _listed(api)["cpu-1"]["state"] == "draining"
    beat = api.post("/api/v1/nodes/cpu-1/heartbeat", json={"running": 0}, headers=node)
    assert beat.json()["schedule"] == "draining"
    assert _listed(api)["cpu-1"]["state"] == "drained"
    api.post("/api/v1/nodes/cpu-1/uncordon", headers=as_user(OPS))
    assert _listed(api)["cpu-1"]["state"] == "ready"
    kinds = _kinds()
    for kind in ("node.cordoned", "node.drain_requested", "node.uncordoned"):
        assert kind in kinds


def test_missed_heartbeats_make_a_node_not_ready_until_they_resume(api: TestClient) -> None:
    _, node = _join_token()
    _register(api, node, "edge-1")
    settings = get_settings()
    _age("edge-1", settings.node_not_ready_after_s + 1)
    assert _listed(api)["edge-1"]["state"] == "not_ready"
    with Session(get_engine()) as session:
        assert service.mark_missing(session, settings) == ["edge-1"]
        assert service.mark_missing(session, settings) == []  # recorded once
        assert service.serving(session, "smollm2-135m", "default", settings) == []
        session.commit()
    api.post("/api/v1/nodes/edge-1/heartbeat", json={"running": 0}, headers=node)
    assert _listed(api)["edge-1"]["state"] == "ready"
    kinds = _kinds()
    assert kinds.count("node.not_ready") == 1 and kinds.count("node.ready") == 1


def test_only_ready_active_nodes_serving_the_model_are_eligible_pool_first_least_loaded(
    api: TestClient,
) -> None:
    _, node = _join_token()
    _register(api, node, "a", concurrency=1)
    _register(api, node, "b", concurrency=4)
    _register(api, node, "c", models=["other"])
    _register(api, node, "d", pool="gpu")
    api.post("/api/v1/nodes/a/heartbeat", json={"running": 1}, headers=node)
    api.post("/api/v1/nodes/b/heartbeat", json={"running": 1}, headers=node)
    settings = get_settings()
    with Session(get_engine()) as session:
        names = [n.name for n in service.serving(session, "smollm2-135m", "default", settings)]
        assert names == ["b", "a", "d"]  # the pool first, least loaded first: 1/4, 1/1
        names = [n.name for n in service.serving(session, "smollm2-135m", "gpu", settings)]
        assert names == ["d", "b", "a"]  # the requested pool first, then the others
        eligible = service.serving(session, "smollm2-135m", "default", settings)
        waiting = {"b": 5}  # the steps the engine placed on each: b 5/4, a none
        assert [n.name for n in service.rank(eligible, "default", waiting)] == ["a", "b", "d"]
        service.set_schedule(session, "b", service.Schedule.draining, "test")
        service.set_schedule(session, "d", service.Schedule.cordoned, "test")
        session.commit()
        _age("a", settings.node_not_ready_after_s + 1)
        with pytest.raises(service.NoNodeReady) as waiting_for:
            service.require_serving(session, "smollm2-135m", "default", settings)
        assert str(waiting_for.value) == (
            "no ready node serves model smollm2-135m (a not ready; b draining; d cordoned)"
        )
        with pytest.raises(service.NoNodeReady, match=r"no ready node serves model nope$"):
            service.require_serving(session, "nope", "default", settings)


def test_a_step_goes_only_to_nodes_with_every_label_it_requires(api: TestClient) -> None:
    _, node = _join_token()
    _register(api, node, "cpu-rabat", labels={"site": "rabat"})
    _register(api, node, "gpu-rabat", labels={"gpu": "true", "site": "rabat"})
    _register(api, node, "gpu-fes", labels={"gpu": "true", "site": "fes"})
    settings = get_settings()

    def eligible(*requires: str) -> set[str]:
        with Session(get_engine()) as session:
            found = service.serving(session, "smollm2-135m", "default", settings, requires)
            return {n.name for n in found}

    assert eligible() == {"cpu-rabat", "gpu-rabat", "gpu-fes"}
    assert eligible("gpu") == {"gpu-rabat", "gpu-fes"}
    assert eligible("site=rabat") == {"cpu-rabat", "gpu-rabat"}
    assert eligible("gpu", "site=rabat") == {"gpu-rabat"}
    assert eligible("site") == {"cpu-rabat", "gpu-rabat", "gpu-fes"}
    assert eligible("site=casa") == set()
    with Session(get_engine()) as session:
        with pytest.raises(service.NoNodeReady) as waiting:
            service.require_serving(
                session, "smollm2-135m", "default", settings, ["gpu", "site=casa"]
            )
        assert str(waiting.value) == (
            "no ready node serves model smollm2-135m with labels gpu,site=casa "
            "(cpu-rabat lacks gpu,site=casa; gpu-fes lacks site=casa; gpu-rabat lacks site=casa)"
        )


def test_join_tokens_are_the_only_way_in_and_can_be_revoked(api: TestClient) -> None:
    token_id, node = _join_token()
    assert _register(api, as_user("amina"), "sneaky").status_code == 403
    assert _register(api, as_user(OPS), "sneaky").status_code == 403
    assert _register(api, NOBODY, "sneaky").status_code == 401
    assert _register(api, node, "gpu-1").status_code == 200
    with Session(get_engine()) as session:
        users.revoke_token(session, token_id, "test")
        session.commit()
    refused = api.post("/api/v1/nodes/gpu-1/heartbeat", json={"running": 0}, headers=node)
    assert refused.status_code == 401
    # a node's identity reads no case and lists no node
    _, other = _join_token()
    assert api.get("/api/v1/nodes", headers=other).status_code == 403
    assert api.get("/api/v1/cases/x", headers=other).status_code == 403


def test_clerks_see_no_nodes_and_auditors_change_none(api: TestClient) -> None:
    _, node = _join_token()
    _register(api, node, "gpu-1")
    assert api.get("/api/v1/nodes", headers=as_user("amina")).status_code == 403
    assert api.get("/api/v1/nodes", headers=as_user("omar")).status_code == 200
    assert api.post("/api/v1/nodes/gpu-1/cordon", headers=as_user("omar")).status_code == 403


@pytest.mark.parametrize(
    ("body", "fix"),
    [
        ({"name": "bad name!"}, "name"),
        ({"name": "ok", "concurrency": 0}, "concurrency"),
        ({"name": "ok", "pool": ""}, "pool"),
    ],
)
def test_a_bad_registration_is_a_422_that_says_what(
    api: TestClient, body: dict[str, Any], fix: str
) -> None:
    _, node = _join_token()
    answer = api.post("/api/v1/nodes/register", json=body, headers=node)
    assert answer.status_code == 422 and fix in answer.text
    assert "ok" not in _listed(api)


def test_unknown_nodes_and_removing_a_live_one(api: TestClient) -> None:
    _, node = _join_token()
    assert api.post("/api/v1/nodes/ghost/cordon", headers=as_user(OPS)).status_code == 404
    assert api.post("/api/v1/nodes/ghost/heartbeat", json={}, headers=node).status_code == 404
    _register(api, node, "old")
    refused = api.delete("/api/v1/nodes/old", headers=as_user(OPS))
    assert refused.status_code == 409 and "still sends heartbeats" in refused.text
    _age("old", 60)
    assert api.delete("/api/v1/nodes/old", headers=as_user(OPS)).status_code == 204
    assert "old" not in _listed(api)


def test_labels_are_parsed_as_ops_write_them() -> None:
    assert service.parse_labels("gpu, site=rabat,,tier = edge") == {
        "gpu": "true",
        "site": "rabat",
        "tier": "edge",
    }
