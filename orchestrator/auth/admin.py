"""User management over the API, for admins (the same operations as ``idara users|tokens``).

Admins manage people, never cases; every change is an audit entry whose actor is the admin.
An admin cannot disable themselves or drop their own admin role, so the last admin cannot
lock everyone out by mistake."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from orchestrator.auth import tokens, users
from orchestrator.auth.deps import ManageUsers
from orchestrator.auth.models import ApiToken, User
from orchestrator.deps import SessionDep
from orchestrator.errors import Conflict

router = APIRouter(prefix="/api/v1/users", tags=["users"])
tokens_router = APIRouter(prefix="/api/v1/tokens", tags=["users"])

Names = list[str]


class UserOut(BaseModel):
    name: str
    display_name: str
    roles: Names
    groups: Names
    unit: str | None
    password_set: bool
    disabled: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            name=user.name,
            display_name=user.display_name,
            roles=user.roles,
            groups=user.groups,
            unit=user.unit,
            password_set=user.password_hash is not None,
            disabled=user.disabled,
            created_at=user.created_at,
        )


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="Lowercase letters, digits . _ -")
    display_name: str = Field(default="", max_length=200)
    roles: Names = Field(min_length=1, description="Among clerk, supervisor, ops, auditor, admin")
    groups: Names = Field(default_factory=list, description="Approval groups (supervisors)")
    unit: str | None = Field(default=None, max_length=100, description="A clerk's unit")
    password: str | None = Field(default=None, max_length=1024, description="12 characters+")


class UserChange(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    roles: Names | None = None
    groups: Names | None = None
    unit: str | None = Field(default=None, max_length=100, description='"" clears the unit')


class PasswordIn(BaseModel):
    password: str = Field(min_length=1, max_length=1024)


class TokenIn(BaseModel):
    label: str = Field(default="", max_length=200)
    days: int | None = Field(default=90, ge=1, le=3650, description="null = never expires")


class TokenOut(BaseModel):
    id: str
    user: str
    label: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool

    @classmethod
    def of(cls, row: ApiToken) -> TokenOut:
        return cls(
            id=row.id,
            user=row.user_name,
            label=row.label,
            kind=row.kind,
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked=row.revoked_at is not None,
        )


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; only its hash is kept")


@router.get("", response_model=list[UserOut])
def list_users(session: SessionDep, _: ManageUsers) -> list[UserOut]:
    """Everyone, with roles, groups, unit, whether a password is set, and state."""
    return [UserOut.of(user) for user in users.list_users(session)]


@router.post("", response_model=UserOut, status_code=201)
def add_user(data: UserIn, session: SessionDep, actor: ManageUsers) -> UserOut:
    """Add a person (409 if the name is taken, 422 for an unknown role or a weak password)."""
    user = users.add(
        session,
        data.name,
        data.display_name,
        data.roles,
        actor.name,
        groups=data.groups,
        unit=data.unit,
        password=data.password,
    )
    session.commit()
    return UserOut.of(user)


@router.get("/{name}", response_model=UserOut)
def get_user(name: str, session: SessionDep, _: ManageUsers) -> UserOut:
    return UserOut.of(users.get(session, name))


@router.patch("/{name}", response_model=UserOut)
def change_user(name: str, data: UserChange, session: SessionDep, actor: ManageUsers) -> UserOut:
    """Change a person's display name, roles, groups or unit; what is left out stays."""
    if name == actor.name and data.roles is not None and "admin" not in data.roles:
        raise Conflict("you cannot drop your own admin role; ask another admin")
    user = users.update(
        session,
        name,
        actor.name,
        display_name=data.display_name,
        roles=data.roles,
        groups=data.groups,
        unit=data.unit,
    )
    session.commit()
    return UserOut.of(user)


@router.post("/{name}/disable", response_model=UserOut)
def disable_user(name: str, session: SessionDep, actor: ManageUsers) -> UserOut:
    """Disable a person: their tokens and sessions stop working at once."""
    if name == actor.name:
        raise Conflict("you cannot disable yourself; ask another admin")
    user = users.disable(session, name, actor.name)
    session.commit()
    return UserOut.of(user)


@router.post("/{name}/enable", response_model=UserOut)
def enable_user(name: str, session: SessionDep, actor: ManageUsers) -> UserOut:
    user = users.enable(session, name, actor.name)
    session.commit()
    return UserOut.of(user)


@router.put("/{name}/password", status_code=204)
def set_password(name: str, data: PasswordIn, session: SessionDep, actor: ManageUsers) -> Response:
    """Set a person's password (12 characters or more); it also lifts a sign-in lock."""
    users.set_password(session, name, data.password, actor.name)
    session.commit()
    return Response(status_code=204)


@router.post("/{name}/unlock", status_code=204)
def unlock(name: str, session: SessionDep, actor: ManageUsers) -> Response:
    """Lift the lock that failed sign-ins put on a name, before it expires."""
    users.unlock(session, name, actor.name)
    session.commit()
    return Response(status_code=204)


@router.get("/{name}/tokens", response_model=list[TokenOut])
def list_tokens(name: str, session: SessionDep, _: ManageUsers) -> list[TokenOut]:
    """A person's API tokens (ids, never the tokens; sign-in sessions are not listed)."""
    users.get(session, name)
    return [TokenOut.of(row) for row in tokens.user_tokens(session, name)]


@router.post("/{name}/tokens", response_model=TokenCreated, status_code=201)
def create_token(name: str, data: TokenIn, session: SessionDep, actor: ManageUsers) -> TokenCreated:
    """Create an API token for a person; the token is in this answer only."""
    row, token = users.create_token(session, name, data.label, actor.name, data.days)
    session.commit()
    return TokenCreated(**TokenOut.of(row).model_dump(), token=token)


@tokens_router.delete("/{token_id}", response_model=TokenOut)
def revoke_token(token_id: str, session: SessionDep, actor: ManageUsers) -> TokenOut:
    """Revoke a token or session; requests with it get 401 at once."""
    row = users.revoke_token(session, token_id, actor.name)
    session.commit()
    return TokenOut.of(row)
