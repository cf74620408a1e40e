"""What a node reads from the environment (``IDARA_`` prefix): where its state, models and keys
are, its broker, its name and metrics port, and its model limits.

The control plane's ``orchestrator.settings.Settings`` builds on these fields (it subclasses
:class:`NodeSettings`), so each setting is defined once and a node needs nothing of the
orchestrator to read its own."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SEEDS_DIR = Path(__file__).resolve().parent.parent / "seeds"


class NodeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDARA_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".idara"), description="State: SQLite file, logs, Redis")
    redis_url: str = Field(default="", description="Broker and result backend; empty = own Redis")
    redis_port: int = Field(default=6391, description="Port of the Redis idara starts itself")
    seeds_dir: Path = SEEDS_DIR
    # --- the signed model catalogue (docs/models.md) ---
    model_manifest: Path | None = Field(
        default=None,
        description="Signed model catalogue; empty = data_dir/models/manifest.json "
        "(made from seeds/models/manifest.json on the first start)",
    )
    model_dir: Path | None = Field(
        default=None, description="Local GGUF files; empty = data_dir/models"
    )
    ops_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key signing the catalogue; empty = data_dir/keys/ops.key "
        "(its public half is written beside it as ops.pub)",
    )
    model_verifier_keys: str = Field(
        default="",
        description="Verifier keys whose catalogue signature a node accepts (comma-separated); "
        "empty = the ops.pub beside ops_key_file",
    )
    step_timeout_s: float = Field(default=600.0, gt=0)
    node_name: str = Field(default="", description="Empty = hostname")
    node_metrics_port: int = Field(
        default=9391, ge=0, le=65535, description="A node's Prometheus metrics port; 0 = off"
    )
    node_metrics_host: str = Field(
        default="127.0.0.1", description="Address a node's metrics port is bound to"
    )
    llm_threads: int = Field(default=0, ge=0, description="0 = all cores")
    llm_context: int = Field(default=2048, ge=256)
    max_step_tokens: int = Field(
        default=1024, ge=16, description="Most tokens a node generates for one step"
    )

    @property
    def effective_model_manifest(self) -> Path:
        return self.model_manifest or self.data_dir / "models" / "manifest.json"

    @property
    def effective_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @property
    def effective_ops_key_file(self) -> Path:
        return self.ops_key_file or self.data_dir / "keys" / "ops.key"

    @property
    def effective_redis_url(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"


@lru_cache(maxsize=1)
def get_node_settings() -> NodeSettings:
    return NodeSettings()
