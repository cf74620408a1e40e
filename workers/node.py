"""Models a node serves: loaded once per worker process, from a catalogue whose signature and
file sha256 are checked first (docs/models.md)."""

from __future__ import annotations

import logging
import os
import socket

from agents.catalogue import Catalogue, describe, load_trusted
from agents.errors import AgentError, ModelUnavailableError
from agents.manifest import ModelEntry
from agents.runtime import LlamaRuntime
from workers.settings import NodeSettings, get_node_settings

log = logging.getLogger(__name__)
MODELS_ENV = "IDARA_NODE_MODELS"

_runtimes: dict[str, LlamaRuntime] = {}
_load_errors: dict[str, str] = {}


def node_name(settings: NodeSettings | None = None) -> str:
    """This node's name: ``IDARA_NODE_NAME``, else the host name."""
    return (settings or get_node_settings()).node_name or socket.gethostname()


def served_models() -> list[str]:
    return [name for name in os.environ.get(MODELS_ENV, "").split(",") if name]


def load_models() -> None:
    """Load every served model; a refused model is remembered, so its steps fail with why.

    Nothing is loaded from a catalogue whose signature does not verify against the keys this
    node trusts; then each file must match its entry's sha256 (``LlamaRuntime`` checks)."""
    settings = get_node_settings()
    try:
        entries = trusted_entries(settings)
    except ModelUnavailableError as exc:
        refuse_all(f"{exc}; no model is loaded")
        return
    for name in served_models():
        entry = entries.get(name)
        if entry is None:
            manifest = settings.effective_model_manifest
            _load_errors[name] = f"model {name!r} is not in the catalogue {manifest}"
            continue
        _load(entry, settings)


def trusted_entries(settings: NodeSettings) -> dict[str, ModelEntry]:
    """The catalogue's entries once its signature verified (raises why it did not)."""
    trusted = load_trusted(Catalogue.from_settings(settings))
    log.warning("model catalogue signed by %s", describe(trusted.key))
    return trusted.entries


def refuse_all(reason: str) -> None:
    for name in served_models():
        _load_errors[name] = reason
    log.error("refused every model: %s", reason)


def _load(entry: ModelEntry, settings: NodeSettings) -> None:
    try:
        _runtimes[entry.name] = LlamaRuntime(
            entry, settings.effective_model_dir, settings.llm_threads, settings.llm_context
        )
        log.warning(
            "loaded model %s (%s) in %.0f ms",
            entry.name,
            entry.sha256[:12],
            _runtimes[entry.name].load_ms,
        )
    except AgentError as exc:
        _load_errors[entry.name] = str(exc)
        log.error("refused model %s: %s", entry.name, exc)


def runtime_for(model: str) -> LlamaRuntime:
    if model in _runtimes:
        return _runtimes[model]
    if model in _load_errors:
        raise ModelUnavailableError(_load_errors[model])
    raise ModelUnavailableError(f"node {node_name()} does not serve model {model!r}")
