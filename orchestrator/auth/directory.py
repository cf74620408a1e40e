"""The seed directory of people (``seeds/users.yaml``), each read as an
:class:`~orchestrator.auth.actor.Actor`. ``idara migrate`` adds the seed people that the
``users`` table does not hold yet; from then on the table is the truth (``idara users ...``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from orchestrator.auth.actor import Actor

ROLES = ("clerk", "supervisor", "ops", "auditor", "admin", "node")
"""``node`` is the service identity nodes register and heartbeat as (join tokens)."""


class DirectoryError(Exception):
    """The users file is missing or malformed."""


@lru_cache(maxsize=4)
def load_directory(path: Path) -> dict[str, Actor]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        people = {}
        for entry in raw.get("users", []):
            roles = frozenset(entry.get("roles", []))
            unknown = roles - set(ROLES)
            if unknown:
                raise DirectoryError(f"{path}: user {entry['name']}: unknown roles {unknown}")
            people[entry["name"]] = Actor(
                name=entry["name"],
                display_name=entry.get("display_name", entry["name"]),
                roles=roles,
                groups=frozenset(entry.get("groups", [])),
                unit=entry.get("unit"),
            )
        return people
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise DirectoryError(f"cannot read the users directory {path}: {exc}") from exc
