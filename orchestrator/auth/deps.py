from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from orchestrator.auth.directory import Actor, load_directory
from orchestrator.deps import SettingsDep
from orchestrator.errors import Unauthorized


def current_actor(
    settings: SettingsDep,
    x_idara_user: Annotated[str | None, Header(max_length=100)] = None,
) -> Actor:
    if not x_idara_user:
        raise Unauthorized("name the acting user in the X-Idara-User header")
    actor = load_directory(settings.users_file).get(x_idara_user)
    if actor is None:
        raise Unauthorized(f"unknown user {x_idara_user!r}")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def optional_actor(
    settings: SettingsDep,
    x_idara_user: Annotated[str | None, Header(max_length=100)] = None,
) -> Actor | None:
    """The named user when there is one; routes that do not yet require sign-in use it to
    record who acted."""
    return current_actor(settings, x_idara_user) if x_idara_user else None


OptionalActorDep = Annotated[Actor | None, Depends(optional_actor)]
