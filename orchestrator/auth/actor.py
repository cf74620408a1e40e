""":class:`Actor`, the signed-in user services receive: their roles, groups and unit always
come from the server (the ``users`` table), never from the caller."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    name: str
    display_name: str
    roles: frozenset[str] = field(default_factory=frozenset)
    groups: frozenset[str] = field(default_factory=frozenset)
    unit: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles
