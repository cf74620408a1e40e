"""People, their roles, and the credentials they sign in with.

Passwords are stored as argon2id hashes; API and session tokens as the SHA-256 of the token
(a token is 32 random bytes, so a plain hash is enough to make a leaked table useless)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel

from orchestrator.db import utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    name: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(max_length=200)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    unit: str | None = Field(default=None, max_length=100)
    password_hash: str | None = Field(default=None, max_length=200)
    disabled: bool = False
    language: str | None = Field(
        default=None, max_length=5, description="The web interface's language (fr, ar, en)"
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class ApiToken(SQLModel, table=True):
    """An API token (``kind`` api, made by ``idara tokens create``) or a sign-in session."""

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=16)
    user_name: str = Field(foreign_key="users.name", index=True, max_length=64)
    kind: str = Field(max_length=10)
    label: str = Field(default="", max_length=200)
    secret_sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins for one name tried (whether or not such a user exists, so a lock says
    nothing about who exists) and, past the limit, until when that name is refused."""

    __tablename__ = "login_throttle"

    name: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    first_failed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
