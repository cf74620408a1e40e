"""Shared fixtures: databases (SQLite always, PostgreSQL when a server URL is given)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from orchestrator import telemetry
from orchestrator.settings import Settings

telemetry.disable()

POSTGRES_ENV = "IDARA_TEST_POSTGRES_URL"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_settings(data_dir: Path, node_name: str = "node-a") -> Settings:
    """A whole stack of its own on free loopback ports (Redis, Prefect, API, node metrics)."""
    return Settings(
        data_dir=data_dir,
        redis_port=free_port(),
        prefect_port=free_port(),
        api_port=free_port(),
        node_name=node_name,
        node_metrics_port=free_port(),
        step_timeout_s=180,
    )


@pytest.fixture(scope="session")
def postgres_server_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"{POSTGRES_ENV} must be set under CI: the PostgreSQL run is required")
    return url


def _create_database(server_url: str) -> tuple[str, str]:
    name = f"idara_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name)
    return url.render_as_string(hide_password=False), name


def _drop_database(server_url: str, name: str) -> None:
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server_url: str | None
) -> Iterator[str]:
    """A fresh, empty database of each kind; a PostgreSQL database is dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'idara.db'}"
        return
    if not postgres_server_url:
        pytest.skip(f"set {POSTGRES_ENV} to run against PostgreSQL")
    url, name = _create_database(postgres_server_url)
    try:
        yield url
    finally:
        _drop_database(postgres_server_url, name)
