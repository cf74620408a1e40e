"""``idara users …`` and ``idara tokens …``: people, roles and API tokens, on the database.

These run on a server with access to the database (as ``idara procedures publish`` does); each
change is an audit entry whose actor is ``cli:<login>``."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.audit import events
from orchestrator.auth import users
from orchestrator.auth.directory import ROLES
from orchestrator.auth.models import ApiToken
from orchestrator.db import migrated_session
from orchestrator.errors import IdaraError
from orchestrator.settings import get_settings

users_app = typer.Typer(
    help="People and their roles: add, list, change, disable, enable, unlock.",
    no_args_is_help=True,
)
tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)
T = TypeVar("T")

NameArg = Annotated[str, typer.Argument(help="User name (lowercase, e.g. amina)")]


def _on_database(action: Callable[..., T], *, commit: bool = True) -> T:
    """Run ``action(session)`` in one transaction; a refusal is printed and exits 1.
    ``commit=False`` for a use case that commits itself (the nodes' do)."""
    try:
        with migrated_session(get_settings().effective_database_url) as session:
            result = action(session)
            if commit:
                session.commit()
            return result
    except IdaraError as exc:
        err.print(f"[bold red]refused:[/] {escape(exc.message)}", soft_wrap=True)
        raise typer.Exit(1) from exc


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@users_app.command("add")
def add_user(
    name: NameArg,
    roles: Annotated[str, typer.Option(help=f"Comma-separated, among: {', '.join(ROLES)}")],
    display_name: Annotated[str, typer.Option(help="Full name shown to others")] = "",
    groups: Annotated[str, typer.Option(help="Approval groups (supervisors)")] = "",
    unit: Annotated[str, typer.Option(help="The unit whose cases a clerk sees")] = "",
    password: Annotated[
        bool, typer.Option(help="Ask for a password (sign-in to the web interface)")
    ] = False,
) -> None:
    """Add a person. A password is asked for on the terminal, never taken as an argument."""
    secret = _ask_password() if password else None
    user = _on_database(
        lambda session: users.add(
            session,
            name,
            display_name,
            _csv(roles),
            events.cli_actor(),
            groups=_csv(groups),
            unit=unit or None,
            password=secret,
        )
    )
    console.print(f"[green]added:[/] {user.name} ({', '.join(user.roles)})")


def _ask_password() -> str:
    first = getpass.getpass("password (12 characters or more): ")
    if getpass.getpass("again: ") != first:
        err.print("[bold red]refused:[/] the two passwords differ")
        raise typer.Exit(1)
    return first


@users_app.command("password")
def set_password(name: NameArg) -> None:
    """Set a person's password (asked for on the terminal)."""
    secret = _ask_password()
    _on_database(lambda session: users.set_password(session, name, secret, events.cli_actor()))
    console.print(f"[green]password set:[/] {name}")


@users_app.command("list")
def list_users() -> None:
    """Everyone, with roles, groups, unit and whether they can sign in."""
    rows = _on_database(users.list_users)
    table = Table("user", "name", "roles", "groups", "unit", "password", "state")
    for row in rows:
        table.add_row(
            row.name,
            row.display_name,
            ", ".join(row.roles),
            ", ".join(row.groups),
            row.unit or "",
            "set" if row.password_hash else "-",
            "[red]disabled[/]" if row.disabled else "active",
        )
    console.print(table)


@users_app.command("disable")
def disable_user(name: NameArg) -> None:
    """Disable a person: their tokens and sessions stop working at once."""
    _on_database(lambda session: users.disable(session, name, events.cli_actor()))
    console.print(f"[green]disabled:[/] {name}")


@users_app.command("change")
def change_user(
    name: NameArg,
    roles: Annotated[str | None, typer.Option(help="New roles (comma-separated)")] = None,
    groups: Annotated[str | None, typer.Option(help="New approval groups")] = None,
    unit: Annotated[str | None, typer.Option(help='New unit ("" clears it)')] = None,
    display_name: Annotated[str | None, typer.Option(help="New full name")] = None,
) -> None:
    """Change a person's roles, groups, unit or name; what is not given stays."""
    user = _on_database(
        lambda session: users.update(
            session,
            name,
            events.cli_actor(),
            display_name=display_name,
            roles=_csv(roles) if roles is not None else None,
            groups=_csv(groups) if groups is not None else None,
            unit=unit,
        )
    )
    console.print(
        f"[green]{user.name}:[/] roles {', '.join(user.roles)}; groups "
        f"{', '.join(user.groups) or '-'}; unit {user.unit or '-'}"
    )


@users_app.command("enable")
def enable_user(name: NameArg) -> None:
    """Let a disabled person sign in again."""
    _on_database(lambda session: users.enable(session, name, events.cli_actor()))
    console.print(f"[green]enabled:[/] {name}")


@users_app.command("unlock")
def unlock_user(name: NameArg) -> None:
    """Lift the lock that failed sign-ins put on a name, before it expires."""
    cleared = _on_database(lambda session: users.unlock(session, name, events.cli_actor()))
    console.print(f"[green]unlocked:[/] {name}" if cleared else f"{name} was not locked")


@tokens_app.command("create")
def create_token(
    name: NameArg,
    label: Annotated[str, typer.Option(help="What the token is for")] = "",
    days: Annotated[int, typer.Option(min=0, help="Expires after this many days; 0 = never")] = 90,
) -> None:
    """Create an API token for a person. It is printed once; only its hash is kept."""

    def create(session: object) -> tuple[str, str]:
        row, token = users.create_token(
            session,  # type: ignore[arg-type]
            name,
            label,
            events.cli_actor(),
            days or None,
        )
        return row.id, token

    token_id, token = _on_database(create)
    err.print(f"token {token_id} for {name}; shown once, keep it safe:")
    print(token)


@tokens_app.command("list")
def list_tokens(
    name: Annotated[str, typer.Argument(help="Only this person's tokens")] = "",
) -> None:
    """API tokens (ids, never the tokens themselves)."""
    from orchestrator.auth import tokens

    rows = _on_database(lambda session: tokens.user_tokens(session, name or None))
    console.print(token_table(rows, show_user=True))


def token_table(rows: list[ApiToken], show_user: bool) -> Table:
    """Tokens as ops see them: ids, labels, dates and state, never the tokens."""
    columns = ["id", "user", "label", "created", "expires", "last used", "state"]
    table = Table(*(c for c in columns if show_user or c != "user"))
    for row in rows:
        cells = [
            row.id,
            row.user_name,
            row.label,
            f"{row.created_at:%Y-%m-%d %H:%M}",
            f"{row.expires_at:%Y-%m-%d}" if row.expires_at else "never",
            f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "-",
            "[red]revoked[/]" if row.revoked_at else "active",
        ]
        table.add_row(*(cells if show_user else cells[:1] + cells[2:]))
    return table


@tokens_app.command("revoke")
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="The token's id (`idara tokens list`)")],
) -> None:
    """Revoke an API token; requests with it get 401 at once."""
    row = _on_database(lambda session: users.revoke_token(session, token_id, events.cli_actor()))
    console.print(f"[green]revoked:[/] token {row.id} of {row.user_name}")
