"""Starts and stops the local stack: Redis, Prefect server, API, engine and its node workers
(one, unless a benchmark asks for more). ``idara up`` and ``idara demo`` run it, and so do the
benchmarks (``orchestrator/bench/``) and the tests that need the real processes.

Every service listens on loopback only. Logs go to ``<data_dir>/logs``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from rich.console import Console
from sqlmodel import Session

from agents import catalogue
from agents.catalogue import Catalogue
from agents.errors import ModelUnavailableError
from orchestrator import telemetry
from orchestrator.engine import prefect_services
from orchestrator.seeding import prepare_database
from orchestrator.settings import Settings

DEFAULT_MODEL = "smollm2-135m"
BOOT_DIR = Path(__file__).resolve().parent / "sovereignty" / "boot"


class StackError(Exception):
    """A service could not start; the message says which and where its log is."""


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    settings: Settings
    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    worker_concurrency: int = 1
    node_module: str = "orchestrator.cli.main"
    """What the node runs as (``python -m``); ``idara bench orchestration`` swaps in its
    instant backend's node here."""
    nodes: int = 1
    """Node processes on this machine (``idara bench scaling``); the first is named after
    the settings' node name, the others ``<name>-2``, ``<name>-3``…"""
    node_threads: int | None = None
    """llama.cpp threads per node; None: the settings' ``llm_threads``."""
    services: list[Service] = field(default_factory=list)
    _join_token: str = field(default="", repr=False)

    @property
    def node_name(self) -> str:
        from workers.node import node_name

        return node_name(self.settings)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir.resolve()

    def env(self) -> dict[str, str]:
        """The environment every child gets: resolved settings, telemetry off."""
        s = self.settings
        env = dict(os.environ)
        env.update(telemetry.OFF)
        env.update(
            {
                "IDARA_DATA_DIR": str(self.data_dir),
                "IDARA_DATABASE_URL": s.effective_database_url,
                "IDARA_REDIS_URL": s.effective_redis_url,
                "IDARA_PREFECT_API_URL": s.effective_prefect_api_url,
                "IDARA_API_HOST": s.api_host,
                "IDARA_API_PORT": str(s.api_port),
                "PREFECT_API_URL": s.effective_prefect_api_url,
                "PREFECT_HOME": str(self.data_dir / "prefect"),
                "IDARA_MODEL_MANIFEST": str(s.effective_model_manifest.resolve()),
                "IDARA_MODEL_DIR": str(s.effective_model_dir.resolve()),
                "IDARA_OPS_KEY_FILE": str(s.effective_ops_key_file.resolve()),
                "IDARA_MODEL_VERIFIER_KEYS": s.model_verifier_keys,
                "IDARA_NODE_NAME": self.node_name,
                "IDARA_NODE_POOL": s.node_pool,
                "PYTHONUNBUFFERED": "1",
                # every child loads the egress guard first (sovereignty/boot/sitecustomize.py)
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(BOOT_DIR), os.environ.get("PYTHONPATH", "")) if p
                ),
                "IDARA_INTERNAL_HOSTS": s.internal_hosts,
                "IDARA_EGRESS_GUARD": "true" if s.egress_guard else "false",
            }
        )
        return env

    def _spawn(
        self, name: str, argv: list[str], extra_env: dict[str, str] | None = None
    ) -> Service:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"
        env = self.env()
        env.update(extra_env or {})
        with log.open("ab") as handle:
            process = subprocess.Popen(
                argv, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        service = Service(name, process, log)
        self.services.append(service)
        return service

    def _wait(self, service: Service, ready: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise StackError(
                    f"{service.name} exited with code {service.process.returncode}; "
                    f"see {service.log}:\n{_tail(service.log)}"
                )
            if ready():
                return
            time.sleep(0.2)
        raise StackError(f"{service.name} not ready after {timeout_s:.0f} s; see {service.log}")

    def start_redis(self) -> None:
        if self.settings.redis_url:
            return  # an external Redis was configured
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(
                "redis-server is not installed; run `make install` (it installs "
                "Debian's redis-server) or set IDARA_REDIS_URL"
            )
        port = self.settings.redis_port
        _require_free_port(port, "IDARA_REDIS_PORT")
        directory = self.data_dir / "redis"
        directory.mkdir(parents=True, exist_ok=True)
        service = self._spawn(
            "redis",
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--protected-mode",
                "yes",
            ],
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5)
        self._wait(service, lambda: bool(_quietly(client.ping)), 20)

    def start_prefect(self) -> None:
        if self.settings.prefect_api_url:
            return
        port = self.settings.prefect_port
        _require_free_port(port, "IDARA_PREFECT_PORT")
        home = self.data_dir / "prefect"
        home.mkdir(parents=True, exist_ok=True)
        service = self._spawn(
            "prefect",
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            {
                "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
                **prefect_services.ENV,
            },
        )
        url = f"{self.settings.effective_prefect_api_url}/health"
        self._wait(service, lambda: _http_ok(url), 180)

    def start_worker(self) -> None:
        """The stack's nodes for its models, registered with its API (or the control plane
        and join token its settings name); they retry until the API is up."""
        for index in range(1, self.nodes + 1):
            self._spawn_node(index)

    def _spawn_node(self, index: int) -> None:
        env = {
            "IDARA_CONTROL_PLANE_URL": self.settings.control_plane_url
            or self.settings.api_base_url,
            "IDARA_JOIN_TOKEN": self.settings.join_token or self.join_token(),
            "IDARA_NODE_LABELS": self.settings.node_labels,
            "IDARA_NODE_NAME": self.node_names[index - 1],
            "IDARA_NODE_METRICS_PORT": str(self._metrics_port(index)),
            "IDARA_NODE_METRICS_HOST": self.settings.node_metrics_host,
        }
        if self.node_threads is not None:
            env["IDARA_LLM_THREADS"] = str(self.node_threads)
        argv = [sys.executable, "-m", self.node_module, "node", "start"]
        argv += ["--models", ",".join(self.models), "--concurrency", str(self.worker_concurrency)]
        self._spawn(_worker_service(index), argv, env)

    def _metrics_port(self, index: int) -> int:
        """The settings' port for the first node, the next ones up for the others; 0 (off)
        for all when it is off."""
        port = self.settings.node_metrics_port
        return port + index - 1 if port else 0

    @property
    def node_names(self) -> list[str]:
        first = self.node_name
        return [first] + [f"{first}-{index}" for index in range(2, self.nodes + 1)]

    def join_token(self) -> str:
        """A join token made in this stack's own database, once per stack."""
        if not self._join_token:
            from orchestrator.db import make_engine
            from orchestrator.nodes.service import create_join_token

            engine = make_engine(self.settings.effective_database_url)
            try:
                with Session(engine) as session:  # the use case commits it
                    _, self._join_token = create_join_token(session, "local stack", "system", 1)
            finally:
                engine.dispose()
        return self._join_token

    def start_api(self) -> None:
        _require_free_port(self.settings.api_port, "IDARA_API_PORT")
        service = self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "orchestrator.app:create_app",
                "--factory",
                "--host",
                self.settings.api_host,
                "--port",
                str(self.settings.api_port),
                "--log-level",
                "warning",
                "--no-server-header",
            ],
        )
        url = f"http://{self.settings.api_host}:{self.settings.api_port}/healthz"
        self._wait(service, lambda: _http_ok(url), 60)

    def start_engine(self) -> None:
        self._spawn("engine", [sys.executable, "-m", "orchestrator.cli.main", "engine"])

    def wait_for_worker(self, timeout_s: float = 120) -> None:
        """Until every node of the stack answers a Celery ping (its models loaded)."""
        from workers.celery_app import make_celery

        app = make_celery(self.settings)

        def answers(name: str) -> Callable[[], bool]:
            return lambda: bool(_quietly(lambda: app.control.ping([f"node@{name}"], timeout=0.5)))

        for index, name in enumerate(self.node_names, 1):
            service = next(s for s in self.services if s.name == _worker_service(index))
            self._wait(service, answers(name), timeout_s)

    def kill(self, name: str) -> None:
        """SIGKILL a service and its children, as a crash would (the chaos tests use it)."""
        service = next(s for s in self.services if s.name == name)
        _signal_group(service.process, signal.SIGKILL)
        service.process.wait(10)
        self.services.remove(service)

    def terminate(self, name: str, timeout_s: float = 120) -> None:
        """SIGTERM a service and wait for it to finish what it was doing."""
        service = next(s for s in self.services if s.name == name)
        _signal_group(service.process, signal.SIGTERM)
        service.process.wait(timeout_s)
        self.services.remove(service)

    def check_alive(self) -> None:
        for service in self.services:
            if service.process.poll() is not None:
                raise StackError(
                    f"{service.name} stopped (code {service.process.returncode}); "
                    f"see {service.log}:\n{_tail(service.log)}"
                )

    def stop(self) -> None:
        """SIGTERM in reverse start order, then SIGKILL what is still there after 15 s."""
        for service in reversed(self.services):
            if service.process.poll() is None:
                _signal_group(service.process, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for service in reversed(self.services):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                service.process.wait(remaining)
            except subprocess.TimeoutExpired:
                _signal_group(service.process, signal.SIGKILL)
                service.process.wait(5)
        self.services.clear()


def start_stack(settings: Settings, models: list[str], console: Console, **shape: Any) -> Stack:
    """Start every service in order, a line on ``console`` for each; on a failure, stop what
    started and raise. ``shape``: fields of :class:`Stack` a benchmark sets (its node module,
    nodes, threads)."""
    stack = Stack(settings, models=models, **shape)
    workers = "node worker" if stack.nodes == 1 else f"{stack.nodes} node workers"
    steps = [
        ("Redis (broker)", stack.start_redis),
        ("signed model catalogue", lambda: install_for_stack(settings)),
        ("Prefect server (the first start takes about 25 s)", stack.start_prefect),
        ("database migrations and procedures", lambda: prepare_database(settings)),
        (workers, stack.start_worker),
        ("API", stack.start_api),
        ("engine", stack.start_engine),
        (f"{workers}: models loaded and listening", stack.wait_for_worker),
    ]
    try:
        with console.status("") as status:
            for label, action in steps:
                status.update(f"starting {label}…")
                started = time.perf_counter()
                action()
                console.print(f"  [green]✓[/] {label} ({time.perf_counter() - started:.1f} s)")
    except BaseException:
        stack.stop()
        raise
    return stack


def install_for_stack(settings: Settings) -> None:
    """The stack's first step: the catalogue made from the seed on the first start, then
    verified as the node will verify it (quick: nothing is hashed once it exists). Raises
    :class:`StackError` saying why, before any service starts."""
    where = Catalogue.from_settings(settings)
    try:
        catalogue.ensure_installed(where)
    except ModelUnavailableError as exc:
        raise StackError(f"{exc} (check it with `idara models verify`)") from exc


def _worker_service(index: int) -> str:
    """The service name of the stack's ``index``-th node (from 1): ``worker``, ``worker-2``…"""
    return "worker" if index == 1 else f"worker-{index}"


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _require_free_port(port: int, variable: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise StackError(
                f"port {port} on 127.0.0.1 is already in use (another idara "
                f"stack?); stop it or choose another port with {variable}"
            )


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _quietly(call: Callable[[], object]) -> object:
    try:
        return call()
    except Exception:
        return None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
