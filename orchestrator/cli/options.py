"""Options shared by the CLI commands that call the API."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.client import TOKEN_ENV

TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar=TOKEN_ENV,
        show_default=False,
        help="API token of the user acting (`idara tokens create USER`); default: $IDARA_TOKEN",
    ),
]
