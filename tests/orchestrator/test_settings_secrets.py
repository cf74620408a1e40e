"""Production refuses default or missing secrets in the endpoints it is configured with."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orchestrator.settings import Settings


@pytest.mark.parametrize(
    ("database_url", "redis_url", "refused"),
    [
        ("postgresql+psycopg://idara:postgres@db.internal/idara", "", "well-known password"),
        ("postgresql+psycopg://idara@db.internal/idara", "", "no password for db.internal"),
        ("", "redis://redis.internal:6379/0", "no password for redis.internal"),
        ("", "redis://:changeme@redis.internal:6379/0", "well-known password"),
    ],
)
def test_production_refuses_default_secrets(
    database_url: str, redis_url: str, refused: str
) -> None:
    with pytest.raises(ValidationError, match=refused):
        Settings(environment="production", database_url=database_url, redis_url=redis_url)
    Settings(environment="development", database_url=database_url, redis_url=redis_url)


def test_production_accepts_real_secrets_and_the_embedded_defaults() -> None:
    Settings(environment="production")  # SQLite and the Redis idara starts on loopback
    Settings(
        environment="production",
        database_url="postgresql+psycopg://idara:Vq7-long-random@db.internal/idara",
        redis_url="redis://:Zt4-long-random@redis.internal:6379/0",
    )
