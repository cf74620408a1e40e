from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestrator.app import create_app
from orchestrator.cli.demo import prepare_database
from orchestrator.db import get_engine
from orchestrator.settings import get_settings
from tests.conftest import free_port


@pytest.fixture
def api(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The API on a fresh database with the seed procedures, and no Redis running at all."""
    monkeypatch.setenv("IDARA_DATABASE_URL", database_url)
    monkeypatch.setenv("IDARA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IDARA_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setenv("IDARA_MAX_REQUEST_CHARS", "500")
    get_settings.cache_clear()
    get_engine.cache_clear()
    prepare_database(get_settings())
    with TestClient(create_app()) as client:
        yield client
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()
