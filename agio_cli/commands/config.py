"""`agio config show | path`: the settings this machine's agio uses (secrets masked)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import typer

from .. import _output as out
from .._connection import server_of
from .._help import AgioTyper

app = AgioTyper(help="Show agio's configuration.", no_args_is_help=True)

MASK = "********"


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config")


def mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{MASK}@{host}"))


def masked_settings(server: str | None) -> dict[str, Any]:
    """Every setting by its environment name; secrets shown only as set or not."""
    from pydantic import SecretStr

    from agio_core import Settings

    settings = Settings()
    shown: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = MASK if value.get_secret_value() else None
        elif name == "database_url":
            value = mask_url_password(value) if value else None
        elif name == "server_url":
            value = server
        elif value is not None and not isinstance(value, bool | int | float):
            value = str(value) or None
        shown[f"AGIO_{name.upper()}"] = value
    return shown


@app.command("show")
def show(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Show the settings in effect (environment, .env, defaults); secrets are masked.

    \b
    Example:
      agio config show --json
    """
    shown = masked_settings(server_of(ctx))
    if as_json:
        out.print_json(shown)
    elif out.fancy():
        out.fields(shown.items())
    else:
        for name, value in shown.items():
            out.write(f"{name}={'' if value is None else value}\n")


@app.command("path")
def path() -> None:
    """Print the data directory (AGIO_HOME).

    \b
    Example:
      ls "$(agio config path)"
    """
    from agio_core import Settings

    out.write(f"{Settings().home}\n")
