"""The egress guard: every idara process refuses connections to anything but loopback, Unix
sockets and the internal hosts of ``IDARA_INTERNAL_HOSTS``, and records each attempt.

It wraps ``socket.socket.connect`` and ``connect_ex``, which every Python client goes through
(httpx, redis-py, asyncio, Celery's kombu). It is installed at start-up by ``sitecustomize``
in each process the stack starts (API, engine, node, Prefect server) and by the CLI and app
themselves. It reads only environment variables, so it costs nothing before the settings load.
Connections made by C libraries on their own (libpq) are not seen here; ``idara sovereignty
check`` verifies their configured endpoints instead.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ATTEMPTS_FILE = "egress-attempts.jsonl"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_allowed_names: frozenset[str] = frozenset()
_allowed_ips: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] = frozenset()
_attempts_path: Path | None = None


class EgressRefused(ConnectionRefusedError):
    """A connection to a host outside the premises, refused before any packet left."""


def internal_hosts() -> list[str]:
    return [h.strip() for h in os.environ.get("IDARA_INTERNAL_HOSTS", "").split(",") if h.strip()]


def attempts_path() -> Path:
    return Path(os.environ.get("IDARA_DATA_DIR", ".idara")).resolve() / ATTEMPTS_FILE


def install() -> None:
    """Guard this process (again: the allowed hosts are read anew)."""
    global _allowed_names, _allowed_ips, _attempts_path
    if os.environ.get("IDARA_EGRESS_GUARD", "true").lower() in {"0", "false", "no", "off"}:
        return
    names = set(LOOPBACK_NAMES)
    ips: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for host in internal_hosts():
        names.add(host.lower())
        ips.update(_resolve(host))
    _allowed_names, _allowed_ips = frozenset(names), frozenset(ips)
    _attempts_path = attempts_path()
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]


def is_installed() -> bool:
    return socket.socket.connect is _guarded_connect


def allowed(family: int, address: Any) -> bool:
    """Loopback, a Unix socket, or an internal host."""
    if family == getattr(socket, "AF_UNIX", None) or not isinstance(address, tuple):
        return True
    host = str(address[0]).split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host.lower() in _allowed_names
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback) or ip in _allowed_ips


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _original_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _original_connect_ex(self, address)


def _check(sock: socket.socket, address: Any) -> None:
    if allowed(sock.family, address):
        return
    target = f"{address[0]}:{address[1]}"
    _record(target)
    raise EgressRefused(
        f"idara egress guard: connection to {target} refused; only loopback and the internal "
        "hosts of IDARA_INTERNAL_HOSTS may be reached"
    )


def _record(target: str) -> None:
    """Append the attempt (who, where, from which code) to the data dir; never raise."""
    entry = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "target": target,
        "pid": os.getpid(),
        "process": " ".join(sys.argv)[:200],
        "stack": traceback.format_stack(limit=8)[:-2],
    }
    log.warning("egress refused: %s (%s)", target, entry["process"])
    if _attempts_path is None:
        return
    try:
        _attempts_path.parent.mkdir(parents=True, exist_ok=True)
        with _attempts_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    except OSError:
        pass


def _resolve(host: str) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses of an internal host, looked up once at start-up."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        log.warning("internal host %s does not resolve; only its name is allowed", host)
        return set()
    return {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
