"""Models a node serves: loaded once per worker process, checked against the manifest first."""

from __future__ import annotations

import logging
import os
import socket

from agents.errors import AgentError, ModelUnavailableError
from agents.manifest import load_manifest
from agents.runtime import LlamaRuntime
from orchestrator.settings import Settings, get_settings

log = logging.getLogger(__name__)
MODELS_ENV = "IDARA_NODE_MODELS"

_runtimes: dict[str, LlamaRuntime] = {}
_load_errors: dict[str, str] = {}


def node_name(settings: Settings | None = None) -> str:
    """This node's name: ``IDARA_NODE_NAME``, else the host name."""
    return (settings or get_settings()).node_name or socket.gethostname()


def served_models() -> list[str]:
    return [name for name in os.environ.get(MODELS_ENV, "").split(",") if name]


def load_models() -> None:
    """Load every served model; a refused model is remembered, so its steps fail with why."""
    settings = get_settings()
    try:
        manifest = load_manifest(settings.model_manifest)
    except ModelUnavailableError as exc:
        for name in served_models():
            _load_errors[name] = str(exc)
        log.error("%s", exc)
        return
    for name in served_models():
        entry = manifest.get(name)
        if entry is None:
            _load_errors[name] = f"model {name!r} is not in the manifest {settings.model_manifest}"
            continue
        try:
            _runtimes[name] = LlamaRuntime(
                entry, settings.model_dir, settings.llm_threads, settings.llm_context
            )
            log.warning(
                "loaded model %s (%s) in %.0f ms", name, entry.sha256[:12], _runtimes[name].load_ms
            )
        except AgentError as exc:
            _load_errors[name] = str(exc)
            log.error("refused model %s: %s", name, exc)


def runtime_for(model: str) -> LlamaRuntime:
    if model in _runtimes:
        return _runtimes[model]
    if model in _load_errors:
        raise ModelUnavailableError(_load_errors[model])
    raise ModelUnavailableError(f"node {node_name()} does not serve model {model!r}")
