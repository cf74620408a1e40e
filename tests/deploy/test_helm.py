"""deploy/helm/idara: the chart's files parse, every `.Values` path its templates use exists in
values.yaml, and, where the Helm SDK is installed (helm-python-sdk: Helm 4's own Go code),
`helm lint --strict` passes and the chart renders what the site asked for."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import telemetry

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "idara"
TEMPLATES = sorted((CHART / "templates").iterdir())
REGISTRY = "registry.site.local/idara"
SITE: dict[str, Any] = {
    "image": {"registry": REGISTRY},
    "settings": {
        "auditOrigin": "idara.example.local/audit",
        "publicUrl": "https://idara.example.local",
    },
    "secrets": {"existingSecret": "idara-secrets"},
    "database": {"host": "db.example.local"},
    "models": {
        "catalogueConfigMap": "idara-catalogue",
        "verifierKeys": "idara-ops@ops+0a1b2c3d+AAAA",
    },
    "nodes": {"joinTokenSecret": "idara-join-token"},
}


def _values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def test_chart_yaml() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "idara"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])


def test_every_values_path_in_the_templates_exists() -> None:
    values = _values()
    used = set()
    for template in TEMPLATES:
        used |= set(re.findall(r"\.Values((?:\.\w+)+)", template.read_text()))
    assert used
    for path in sorted(used):
        node: Any = values
        for part in path.strip(".").split("."):
            assert isinstance(node, dict) and part in node, f".Values{path} is not in values.yaml"
            node = node[part]


def test_every_node_group_has_the_same_keys() -> None:
    groups = _values()["nodes"]["groups"]
    keys = {frozenset(group) for group in groups}
    assert len(keys) == 1
    assert {"name", "replicas", "gpu", "gpuCount", "nodeSelector", "tolerations"} <= set(groups[0])
    assert [g["gpu"] for g in groups] == [False, True]


def test_secrets_and_site_values_are_empty_by_default() -> None:
    values = _values()
    assert values["image"]["registry"] == ""
    assert values["secrets"]["existingSecret"] == ""
    assert values["database"]["host"] == ""
    assert values["settings"]["auditOrigin"] == ""
    assert values["nodes"]["joinTokenSecret"] == ""
    text = (CHART / "values.yaml").read_text().lower()
    assert "password:" not in text  # passwords live in the Secret, never in values


def test_telemetry_block_matches_orchestrator_telemetry() -> None:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = helpers.split('{{- define "idara.telemetryEnv" -}}', 1)[1].split("{{- end -}}", 1)[0]
    env = {item["name"]: item["value"] for item in yaml.safe_load(block)}
    assert env == telemetry.OFF


# --- with the Helm SDK --------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm() -> Any:
    return pytest.importorskip("helm_python", reason="helm-python-sdk (the Helm SDK) is absent")


def _render(helm: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        rendered = chart.render(values, name="idara", namespace="idara")
    documents = []
    for name, text in rendered.items():
        if name.endswith(".yaml"):
            documents += [d for d in yaml.safe_load_all(text) if d]
    return documents


def _gpu_site() -> dict[str, Any]:
    values = copy.deepcopy(SITE)
    values["nodes"]["groups"] = copy.deepcopy(_values()["nodes"]["groups"])
    values["nodes"]["groups"][1]["replicas"] = 2
    values["networkPolicy"] = {"enabled": True, "egressCIDRs": ["10.0.0.0/24"]}
    return values


@pytest.mark.parametrize("values", [SITE, _gpu_site()], ids=["default", "gpu"])
def test_helm_lint_strict(helm: Any, values: dict[str, Any]) -> None:
    report = helm.lint(str(CHART), values, strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


def test_render_without_site_values_names_what_is_required(helm: Any) -> None:
    with pytest.raises(helm.HelmError, match="is required"):
        _render(helm, {})
    for key in ("secrets", "database", "models"):
        partial = {k: v for k, v in SITE.items() if k != key}
        with pytest.raises(helm.HelmError, match=f"{key}\\.\\w+ is required"):
            _render(helm, partial)


def test_rendered_workloads(helm: Any) -> None:
    documents = _render(helm, _gpu_site())
    kinds = {(d["kind"], d["metadata"]["name"]) for d in documents}
    assert {
        ("Deployment", "idara-api"),
        ("Service", "idara-api"),
        ("Deployment", "idara-engine"),
        ("Job", "idara-migrate"),
        ("Deployment", "idara-prefect"),
        ("Deployment", "idara-redis"),
        ("Deployment", "idara-node-cpu"),
        ("Deployment", "idara-node-gpu"),
        ("NetworkPolicy", "idara-egress"),
    } <= kinds
    for document in documents:
        if document["kind"] not in {"Deployment", "Job"}:
            continue
        pod = document["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            where = (document["metadata"]["name"], container["name"])
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert container["image"].startswith(f"{REGISTRY}/"), where
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if container["name"] != "redis":
                for variable, value in telemetry.OFF.items():
                    assert env.get(variable) == value, (where, variable)
            for item in container.get("env", []):
                if "PASSWORD" in item["name"] or item["name"] == "IDARA_JOIN_TOKEN":
                    assert "secretKeyRef" in item["valueFrom"], where


def test_rendered_nodes(helm: Any) -> None:
    documents = _render(helm, _gpu_site())
    nodes = {
        d["metadata"]["name"]: d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["name"].startswith("idara-node-")
    }
    gpu = nodes["idara-node-gpu"]["spec"]
    cpu = nodes["idara-node-cpu"]["spec"]
    assert gpu["replicas"] == 2
    gpu_pod, cpu_pod = gpu["template"]["spec"], cpu["template"]["spec"]
    assert gpu_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in cpu_pod["containers"][0]["resources"].get("limits", {})
    assert gpu_pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert gpu_pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert gpu_pod["containers"][0]["image"] == f"{REGISTRY}/idara-gpu:0.1.0"
    for pod in (gpu_pod, cpu_pod):
        assert pod["terminationGracePeriodSeconds"] >= 660
        container = pod["containers"][0]
        assert container["command"][:3] == ["idara", "node", "start"]
        env = {e["name"]: e for e in container["env"]}
        assert "IDARA_DATABASE_URL" not in env  # nodes never touch the database
        assert env["IDARA_INTERNAL_HOSTS"]["value"] == "idara-redis,idara-api"
        assert env["IDARA_CONTROL_PLANE_URL"]["value"] == "http://idara-api:8391"


def test_rendered_control_plane_env(helm: Any) -> None:
    documents = _render(helm, SITE)
    api = next(d for d in documents if d["metadata"]["name"] == "idara-api")
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    hosts = env["IDARA_INTERNAL_HOSTS"]["value"].split(",")
    assert set(hosts) == {
        "db.example.local",
        "idara-redis",
        "idara-api",
        "idara-prefect",
        "idara.example.local",
    }
    assert env["IDARA_DATABASE_URL"]["value"] == (
        "postgresql+psycopg://idara:$(DB_PASSWORD)@db.example.local:5432/idara"
    )
    assert env["IDARA_REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@idara-redis:6379/0"
    migrate = next(d for d in documents if d["kind"] == "Job")
    assert migrate["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
