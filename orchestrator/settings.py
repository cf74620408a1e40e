"""All configuration, read from the environment with the ``IDARA_`` prefix: what a node reads
(``workers.settings``), and the control plane's own."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from workers.settings import SEEDS_DIR, NodeSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(NodeSettings):
    """The control plane's settings: the node's (:class:`workers.settings.NodeSettings`, which
    an API or engine process reads too: broker, data dir, catalogue, step timeout) and its own."""

    database_url: str = Field(default="", description="SQLAlchemy URL; empty = SQLite in data_dir")
    prefect_port: int = Field(default=4291, description="Port of the Prefect server idara starts")
    prefect_api_url: str = Field(default="", description="Empty = the Prefect server idara starts")
    api_host: str = "127.0.0.1"
    api_port: int = 8391
    public_url: str = Field(default="", description="Base URL printed for cases; empty = api")
    procedures_dir: Path = Field(default=SEEDS_DIR / "procedures")
    examples_dir: Path = Field(
        default=SEEDS_DIR / "examples", description="Seeded example banks (<procedure>/<step>)"
    )
    users_file: Path = Field(default=SEEDS_DIR / "users.yaml", description="People and roles")
    regulations_dir: Path = Field(
        default=SEEDS_DIR / "regulations", description="Local documents the tools read"
    )
    documents_dir: Path | None = Field(
        default=None, description="Delivered documents (HTML, PDF); empty = data_dir/documents"
    )
    deadline_check_s: float = Field(default=60.0, gt=0, description="Deadline flow interval")
    max_request_chars: int = Field(default=8000, ge=1)
    engine_poll_s: float = Field(default=0.25, gt=0)
    engine_max_parallel_cases: int = Field(default=4, ge=1)
    node_pool: str = "default"
    node_labels: str = Field(default="", description="A node's labels: gpu,site=rabat")
    control_plane_url: str = Field(
        default="", description="The API a node registers with; empty = api_base_url"
    )
    join_token: str = Field(default="", description="The token a node registers with")
    node_heartbeat_s: float = Field(default=5.0, gt=0, description="A node's heartbeat interval")
    node_not_ready_after_s: float = Field(
        default=15.0, gt=0, description="A node is not_ready after this long without a heartbeat"
    )
    node_register_timeout_s: float = Field(
        default=180.0, gt=0, description="How long a starting node retries reaching the API"
    )
    internal_hosts: str = Field(
        default="",
        description="Hosts beyond loopback that idara processes may connect to (comma-separated)",
    )
    egress_guard: bool = Field(default=True, description="Refuse and record any other connection")
    redispatch_after_s: float = Field(
        default=15.0,
        gt=0,
        description="Send a step again when it has been lost this long (not queued, not running)",
    )
    # --- admission control (issue 9): bodies, requests in flight, queue depth ---
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest request body")
    max_inflight_requests: int = Field(
        default=64, ge=1, description="Requests the API serves at once; more get 503"
    )
    max_queued_cases: int = Field(
        default=5000, ge=1, description="Cases waiting for the engine; more filings get 503"
    )
    retry_after_s: int = Field(default=5, ge=1, description="Retry-After on 429 and 503")
    # --- access control (issue 6) ---
    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses default or missing secrets in the endpoints' URLs",
    )
    submissions_per_minute: int = Field(
        default=30, ge=1, description="Cases one user may file per minute; more get 429"
    )
    session_hours: float = Field(default=8.0, gt=0, description="How long a sign-in lasts")
    # --- the web interface (orchestrator/web, docs/ui.md) ---
    ui_language: Literal["fr", "ar", "en"] = Field(
        default="fr",
        description="The web interface's language for people who have not chosen one and "
        "whose browser asks for none of fr, ar, en",
    )
    ui_timezone: str = Field(
        default="UTC", description="Time zone the web interface shows times in (IANA name)"
    )
    # --- optional OpenID Connect sign-in (orchestrator/auth/oidc.py, docs/security.md) ---
    oidc_issuer: str = Field(
        default="", description="Issuer URL of the on-premises OpenID Connect provider; empty = off"
    )
    oidc_client_id: str = Field(default="idara", description="idara's client id at the provider")
    oidc_client_secret: str = Field(
        default="", description="idara's client secret (client_secret_basic); empty = public client"
    )
    oidc_redirect_url: str = Field(
        default="",
        description="Callback URL registered at the provider; "
        "empty = public URL + /api/v1/auth/oidc/callback",
    )
    oidc_scopes: str = Field(
        default="openid profile email", description="Scopes asked for (space-separated)"
    )
    oidc_roles_claim: str = Field(
        default="realm_access.roles",
        description="Dotted path of the ID token claim listing roles (Keycloak's realm roles)",
    )
    oidc_groups_claim: str = Field(
        default="groups", description="Dotted path of the claim listing approval groups"
    )
    oidc_unit_claim: str = Field(default="unit", description="Dotted path of the unit claim")
    oidc_after_login: str = Field(
        default="/ui/", description="Where the browser goes after signing in"
    )
    oidc_ca_file: Path | None = Field(
        default=None,
        description="CA bundle that signs the provider's TLS certificate; empty = system CAs",
    )
    login_failures_allowed: int = Field(
        default=5, ge=1, description="Failed sign-ins in a row before a name is locked"
    )
    login_lock_minutes: float = Field(
        default=15.0, gt=0, description="How long a locked name is refused (429)"
    )
    audit_origin: str = Field(
        default="idara.local/audit",
        pattern=r"^[^\s+]+$",
        description="Name of this audit log in its signed checkpoints (no spaces, no '+')",
    )
    audit_key_file: Path | None = Field(
        default=None, description="Ed25519 key signing checkpoints; empty = data_dir/keys/audit.key"
    )
    audit_checkpoint_entries: int = Field(
        default=1000, ge=1, description="Sign a checkpoint after this many new entries"
    )
    audit_checkpoint_s: float = Field(
        default=300.0, gt=0, description="…or when new entries are this old (seconds)"
    )
    audit_payload_retention_days: int = Field(
        default=730, ge=1, description="Personal data the audit log refers to is kept this long"
    )

    @field_validator("ui_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; give an IANA name such as Africa/Casablanca"
            ) from exc
        return value

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            problems = default_secrets(self)
            if problems:
                raise ValueError("refused in production: " + "; ".join(problems))
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'idara.db').resolve()}"

    @property
    def effective_documents_dir(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

    @property
    def effective_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "keys" / "audit.key"

    @property
    def effective_prefect_api_url(self) -> str:
        return self.prefect_api_url or f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def api_base_url(self) -> str:
        return self.public_url or f"http://{self.api_host}:{self.api_port}"


WELL_KNOWN_PASSWORDS = frozenset(
    {"", "postgres", "password", "idara", "admin", "changeme", "secret", "redis", "root", "test"}
)
"""Passwords no production endpoint may use: the defaults of images, guides and this repo."""


def default_secrets(settings: Settings) -> list[str]:
    """What in the settings is a default or missing secret (production refuses any)."""
    problems = []
    for name, url in (("database_url", settings.database_url), ("redis_url", settings.redis_url)):
        if not url:
            continue  # the embedded default: on loopback, started by idara itself
        parts = urlsplit(url)
        loopback = parts.hostname in {None, "", "127.0.0.1", "::1", "localhost"}
        if parts.password is not None and parts.password in WELL_KNOWN_PASSWORDS:
            problems.append(f"IDARA_{name.upper()} uses a well-known password")
        elif parts.password is None and not loopback and not url.startswith("sqlite"):
            problems.append(f"IDARA_{name.upper()} has no password for {parts.hostname}")
    return problems + _oidc_secrets(settings)


def _oidc_secrets(settings: Settings) -> list[str]:
    """With OpenID Connect on: a real client secret, and TLS to any provider off loopback."""
    if not settings.oidc_issuer:
        return []
    problems = []
    if settings.oidc_client_secret in WELL_KNOWN_PASSWORDS:
        problems.append("IDARA_OIDC_CLIENT_SECRET is empty or a well-known password")
    parts = urlsplit(settings.oidc_issuer)
    if parts.scheme != "https" and parts.hostname not in {"127.0.0.1", "::1", "localhost"}:
        problems.append(f"IDARA_OIDC_ISSUER is not https ({settings.oidc_issuer})")
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
