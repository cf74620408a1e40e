"""``idara sovereignty check``: one line per promise, each PASS, FAIL or WARN (not yet built).

Telemetry of every dependency off; every configured endpoint on the premises; every model file
matching the sha256 of the manifest; the egress guard refusing a connection out, and no
attempt recorded by any process of the stack.
"""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from agents.catalogue import Catalogue, signature_state
from agents.errors import ModelUnavailableError
from agents.manifest import load_manifest, verified_model_path
from orchestrator import telemetry
from orchestrator.settings import Settings, default_secrets
from orchestrator.sovereignty import egress

EXTERNAL_REFERENCE = re.compile(r"https?://|//[a-z0-9]", re.IGNORECASE)
"""A URL with a scheme, or one relative to the scheme (``//cdn.example``)."""
PROBE = ("192.0.2.1", 9)
"""TEST-NET-1 (RFC 5737): an address outside any premises."""


@dataclass
class Line:
    status: str  # PASS, FAIL, WARN
    what: str
    detail: str


def run(settings: Settings) -> list[Line]:
    return [
        *_telemetry(),
        *_endpoints(settings),
        _secrets(settings),
        *_models(settings),
        _guard_refuses(),
        _no_attempts(),
        _web_interface(),
    ]


def _telemetry() -> list[Line]:
    lines = []
    for name, wanted in telemetry.OFF.items():
        value = os.environ.get(name)
        ok = value == wanted
        lines.append(
            Line("PASS" if ok else "FAIL", f"telemetry: {name}", f"{value!r} (want {wanted!r})")
        )
    from prefect.settings import get_current_settings

    analytics = get_current_settings().server.analytics_enabled
    lines.append(
        Line(
            "PASS" if not analytics else "FAIL",
            "telemetry: Prefect server analytics",
            f"analytics_enabled={analytics}",
        )
    )
    return lines


def _endpoints(settings: Settings) -> list[Line]:
    endpoints = {
        "database": settings.effective_database_url,
        "broker (Redis)": settings.effective_redis_url,
        "Prefect API": settings.effective_prefect_api_url,
        "public URL": settings.api_base_url,
    }
    if settings.oidc_issuer:
        endpoints["OpenID Connect issuer"] = settings.oidc_issuer
    lines = []
    for what, url in endpoints.items():
        host = urlsplit(url).hostname
        if url.startswith("sqlite"):
            ok, where = True, "a local file"
        elif host is None:
            ok, where = True, "a local socket"
        else:
            ok, where = _internal(host), host
        detail = where if ok else f"{where} is neither loopback nor in IDARA_INTERNAL_HOSTS"
        lines.append(Line("PASS" if ok else "FAIL", f"endpoint: {what}", detail))
    return lines


def _secrets(settings: Settings) -> Line:
    """Default secrets are refused outright in production; elsewhere they are shown here."""
    problems = default_secrets(settings)
    if not problems:
        return Line("PASS", "secrets", f"no default or missing secret ({settings.environment})")
    status = "FAIL" if settings.environment == "production" else "WARN"
    return Line(status, "secrets", f"{'; '.join(problems)} ({settings.environment})")


def _internal(host: str) -> bool:
    """Loopback or an internal host, by the guard's own rule."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return host.lower() in {h.lower() for h in egress.internal_hosts()}
    return all(egress.allowed(info[0], info[4]) for info in infos)


def _models(settings: Settings) -> list[Line]:
    """The catalogue's signature as a node checks it, then one line per model file's sha256."""
    where = Catalogue.from_settings(settings)
    try:
        manifest = load_manifest(where.manifest)
    except ModelUnavailableError as exc:
        return [Line("FAIL", "models: manifest", str(exc))]
    lines = [_signature(where)]
    for entry in manifest.values():
        try:
            path = verified_model_path(entry, where.model_dir)
            lines.append(Line("PASS", f"model {entry.name}: sha256", f"{entry.sha256} ({path})"))
        except ModelUnavailableError as exc:
            lines.append(Line("FAIL", f"model {entry.name}: sha256", str(exc)))
    return lines


def _signature(where: Catalogue) -> Line:
    what = "models: manifest signature"
    try:
        data = where.manifest.read_bytes()
    except OSError as exc:
        return Line("FAIL", what, str(exc))
    signed, detail = signature_state(where, data)
    return (
        Line("PASS", what, f"{where.manifest} {detail}") if signed else Line("FAIL", what, detail)
    )


def _guard_refuses() -> Line:
    """The guard wraps this process's sockets and its rule refuses an outside address (the
    address is only tested, never connected to: the tests connect for real)."""
    if not egress.is_installed():
        return Line("FAIL", "egress guard", "not installed in this process (IDARA_EGRESS_GUARD?)")
    if egress.allowed(socket.AF_INET, PROBE):
        return Line("FAIL", "egress guard", f"{PROBE[0]} would be allowed out")
    internal = ", ".join(egress.internal_hosts()) or "none"
    return Line("PASS", "egress guard", f"active; allowed: loopback, internal hosts: {internal}")


def _web_interface() -> Line:
    """The pages, their stylesheet and script name no other host, and every page tells the
    browser to load nothing from one (its Content-Security-Policy)."""
    from orchestrator.web.render import SECURITY_HEADERS, STATIC_DIR, TEMPLATES_DIR

    what = "web interface: served by idara alone"
    files = [*TEMPLATES_DIR.glob("*.html"), *STATIC_DIR.glob("*")]
    outside = [f.name for f in files if EXTERNAL_REFERENCE.search(f.read_text(encoding="utf-8"))]
    if outside:
        return Line("FAIL", what, f"{', '.join(outside)} refer to another host")
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    if "default-src 'self'" not in policy:
        return Line("FAIL", what, f"Content-Security-Policy allows other hosts: {policy}")
    return Line("PASS", what, f"{len(files)} files name no other host; {policy.split(';')[0]}")


def _no_attempts() -> Line:
    """Attempts recorded by the processes of the stack that share this data dir."""
    path = egress.attempts_path()
    if not path.exists():
        return Line("PASS", "egress attempts", f"none recorded ({path})")
    targets = [json.loads(line)["target"] for line in path.read_text().splitlines() if line]
    if not targets:
        return Line("PASS", "egress attempts", f"none recorded ({path})")
    return Line("FAIL", "egress attempts", f"{len(targets)} recorded in {path}, e.g. {targets[-1]}")
