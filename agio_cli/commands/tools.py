"""`agio tools list`: the tools an agent can use, where each comes from, its approval policy."""

from __future__ import annotations

import typer

from .. import _output as out
from .._connection import call
from .._help import AgioTyper
from .._options import AS_JSON

app = AgioTyper(help="List the tools agents can use.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="tools")


@app.command("list")
def list_tools(
    ctx: typer.Context,
    agent: str | None = typer.Option(
        None,
        "--agent",
        "-a",
        metavar="AGENT",
        help="This agent's tools (its MCP servers are started); default: every built-in.",
    ),
    limit: int = typer.Option(100, "--limit", "-n", min=1, metavar="N", help="At most this many."),
    offset: int = typer.Option(0, "--offset", min=0, metavar="N", help="Skip this many."),
    as_json: bool = AS_JSON,
) -> None:
    """List tools: name, source (builtin, python, mcp:SERVER), approval policy, description.

    \b
    Example:
      agio tools list -a coder
    """
    page = call(ctx, lambda agio: agio.list_tools(agent, limit=limit, offset=offset))
    if as_json:
        out.print_json(page.model_dump(mode="json"))
        return
    out.table(
        ["name", "source", "policy", "description"],
        (
            [
                t.name,
                t.source,
                t.policy or "-",
                t.error if t.error else t.description,
            ]
            for t in page.items
        ),
    )
    out.cut_note(len(page.items), offset, page.total)
