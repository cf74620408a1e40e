"""``idara node start`` (on a node machine) and ``idara nodes …`` (on the control plane).

``idara nodes`` works on the database, as ``idara users`` does; each change is a use case of
:mod:`orchestrator.nodes.service` (which commits it), an audit entry whose actor is
``cli:<login>``."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.audit import events
from orchestrator.cli.users import _on_database, token_table
from orchestrator.nodes import service
from orchestrator.nodes.models import Schedule
from orchestrator.nodes.schemas import NodeOut
from orchestrator.settings import Settings, get_settings

node_app = typer.Typer(help="Run this machine as a node.", no_args_is_help=True)
nodes_app = typer.Typer(
    help="Nodes: list, cordon, drain, uncordon, remove; join tokens.", no_args_is_help=True
)
join_app = typer.Typer(help="Join tokens nodes register with.", no_args_is_help=True)
nodes_app.add_typer(join_app, name="join-token")
console = Console()
err = Console(stderr=True)

NodeArg = Annotated[str, typer.Argument(help="The node's name (`idara nodes list`)")]


@node_app.command("start")
def start(
    control_plane: Annotated[
        str | None, typer.Option(help="The API to register with (IDARA_CONTROL_PLANE_URL)")
    ] = None,
    join_token: Annotated[
        str | None, typer.Option(help="From `idara nodes join-token create` (IDARA_JOIN_TOKEN)")
    ] = None,
    models: Annotated[
        str, typer.Option(help="Models this node serves (comma-separated)")
    ] = "smollm2-135m",
    labels: Annotated[
        str | None, typer.Option(help="Labels, e.g. gpu,site=rabat (IDARA_NODE_LABELS)")
    ] = None,
    pool: Annotated[str | None, typer.Option(help="Node pool (IDARA_NODE_POOL)")] = None,
    name: Annotated[str | None, typer.Option(help="Node name (default: the host name)")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes, one model each")] = 1,
) -> None:
    """Register with the control plane, then run a Celery worker for the models; heartbeats
    say whether to take steps (cordon and drain are obeyed; running steps always finish)."""
    from agents.contract import idle_queue, node_queue
    from workers import metrics as node_metrics
    from workers.celery_app import get_celery
    from workers.facts import node_facts
    from workers.membership import Heartbeats, Member, MembershipError
    from workers.node import MODELS_ENV, node_name

    settings = get_settings()
    token = join_token or settings.join_token
    if not token:
        _fail("a join token is needed: --join-token or IDARA_JOIN_TOKEN")
    served = [m for m in models.split(",") if m]
    _check_catalogue(served, settings)
    member = Member(
        control_plane=control_plane or settings.control_plane_url or settings.api_base_url,
        token=token,
        name=name or node_name(settings),
        pool=pool or settings.node_pool,
        labels=service.parse_labels(labels if labels is not None else settings.node_labels),
        models=served,
        concurrency=concurrency,
        facts=node_facts(),
    )
    try:
        answer = member.register_within(settings.node_register_timeout_s)
    except MembershipError as exc:
        _fail(str(exc))
    console.print(
        f"node {member.name} registered with {member.control_plane}: {answer['schedule']}"
    )
    os.environ[MODELS_ENV] = ",".join(served)
    Heartbeats.member = member
    Heartbeats.queues = [node_queue(member.name)]
    Heartbeats.interval_s = float(answer.get("heartbeat_s", settings.node_heartbeat_s))
    celery_app = get_celery()
    celery_app.steps["consumer"].add(Heartbeats)
    node_metrics.serve(settings, member)  # IDARA_NODE_METRICS_PORT, before the worker forks
    celery_app.worker_main(
        [
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            # no step until the control plane says it may take steps (then node.<name>)
            f"--queues={idle_queue(member.name)}",
            f"--hostname=node@{member.name}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def _check_catalogue(served: list[str], settings: Settings) -> None:
    """Refuse to start on a catalogue that does not verify, or without the models asked for:
    such a node would take steps from the queues and fail each one (files are still hashed
    before loading, in the worker processes)."""
    from agents.catalogue import Catalogue, load_trusted
    from agents.errors import ModelUnavailableError

    try:
        trusted = load_trusted(Catalogue.from_settings(settings))
    except ModelUnavailableError as exc:
        _fail(f"the model catalogue does not verify, so this node would refuse every model: {exc}")
        return
    missing = [name for name in served if name not in trusted.entries]
    if missing:
        _fail(
            f"not in the model catalogue {settings.effective_model_manifest}: "
            f"{', '.join(missing)} (`idara models list` shows what it holds)"
        )


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)


@nodes_app.command("list")
def list_nodes() -> None:
    """Every node: state, pool, labels, models, running steps, heartbeat age, hardware."""
    settings = get_settings()
    rows = _on_database(
        lambda session: [NodeOut.of(n, settings) for n in service.list_nodes(session)]
    )
    table = Table("node", "state", "pool", "labels", "models", "running", "heartbeat", "hardware")
    for row in rows:
        gpus = ", ".join(g["name"] for g in row.facts.get("gpus", [])) or "no GPU"
        table.add_row(
            row.name,
            _coloured(row.state),
            row.pool,
            ",".join(k if v == "true" else f"{k}={v}" for k, v in row.labels.items()),
            ", ".join(row.models),
            f"{row.running}/{row.concurrency}",
            f"{row.heartbeat_age_s:.0f} s ago",
            f"{row.facts.get('cpu_cores', '?')} cores, {gpus}",
        )
    console.print(table if rows else "no node has registered yet")


def _coloured(state: str) -> str:
    colour = {"ready": "green", "not_ready": "red", "drained": "blue"}.get(state, "yellow")
    return f"[{colour}]{state}[/]"


def _set(name: str, schedule: Schedule, what: str) -> None:
    _on_database(
        lambda session: service.change_schedule(session, name, schedule, events.cli_actor()),
        commit=False,
    )
    console.print(f"[green]{what}:[/] {name}")


@nodes_app.command("cordon")
def cordon(name: NodeArg) -> None:
    """Take no new step on the node; its running steps go on."""
    _set(name, Schedule.cordoned, "cordoned")


@nodes_app.command("drain")
def drain(name: NodeArg) -> None:
    """Take no new step and let the running ones finish (`list` then shows it drained)."""
    _set(name, Schedule.draining, "draining")


@nodes_app.command("uncordon")
def uncordon(name: NodeArg) -> None:
    """Let the node take steps again."""
    _set(name, Schedule.active, "uncordoned")


@nodes_app.command("remove")
def remove(
    name: NodeArg,
    force: Annotated[bool, typer.Option(help="Even if it still sends heartbeats")] = False,
) -> None:
    """Forget a node that is gone."""
    settings = get_settings()
    _on_database(
        lambda session: service.remove(session, name, events.cli_actor(), settings, force),
        commit=False,
    )
    console.print(f"[green]removed:[/] {name}")


@join_app.command("create")
def create_join_token(
    label: Annotated[str, typer.Option(help="What the token is for, e.g. rack-3")] = "",
    days: Annotated[int, typer.Option(min=0, help="Expires after this many days; 0 = never")] = 0,
) -> None:
    """A token nodes register with; printed once, only its hash is kept."""

    def create(session: object) -> tuple[str, str]:
        row, token = service.create_join_token(
            session,  # type: ignore[arg-type]
            label,
            events.cli_actor(),
            days or None,
        )
        return row.id, token

    token_id, token = _on_database(create, commit=False)
    err.print(f"join token {token_id}; shown once, keep it safe:")
    print(token)


@join_app.command("list")
def list_join_tokens() -> None:
    """Join tokens (ids, never the tokens)."""
    console.print(token_table(_on_database(service.join_tokens), show_user=False))


@join_app.command("revoke")
def revoke_join_token(
    token_id: Annotated[str, typer.Argument(help="The token's id (`join-token list`)")],
) -> None:
    """Revoke a join token: nodes that use it are refused at their next heartbeat."""
    from orchestrator.auth import users

    row = _on_database(lambda session: users.revoke_token(session, token_id, events.cli_actor()))
    console.print(f"[green]revoked:[/] join token {row.id}")
