from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from orchestrator.app import create_app
from orchestrator.auth import users
from orchestrator.db import get_engine, make_engine
from orchestrator.seeding import prepare_database
from orchestrator.settings import Settings, get_settings
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
        client.headers.update(as_user("amina"))  # a clerk of rabat-reception, unless told
        yield client
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


NOBODY = {"Authorization": ""}
"""Headers that drop the ``api`` client's sign-in."""

_tokens: dict[tuple[str, str], str] = {}


def as_user(name: str) -> dict[str, str]:
    """Headers that sign in as ``name`` (a seed person) on the current test database."""
    return _signed_in(get_engine(), name)


def signed_in(settings: Settings, name: str) -> dict[str, str]:
    """Headers that sign in as ``name`` on a stack's database (``settings`` of its API)."""
    engine = make_engine(settings.effective_database_url)
    try:
        return _signed_in(engine, name)
    finally:
        engine.dispose()


def _signed_in(engine: Engine, name: str) -> dict[str, str]:
    key = (engine.url.render_as_string(hide_password=False), name)
    if key not in _tokens:
        with Session(engine) as session:
            _, _tokens[key] = users.create_token(session, name, "test", "test")
            session.commit()
    return {"Authorization": f"Bearer {_tokens[key]}"}


class SignedIn(Mapping[str, str]):
    """Lazy ``as_user(name)`` headers, for module-level constants (the token is made on the
    test's database at first use)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _headers(self) -> dict[str, str]:
        return as_user(self.name)

    def __getitem__(self, key: str) -> str:
        return self._headers()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())
