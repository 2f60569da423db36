"""`agio agents list | show | create | delete`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from .. import _output as out
from .._connection import call
from .._help import AgioTyper
from .._options import AS_JSON
from .._render import model_label

if TYPE_CHECKING:
    from agio_core import Agent, AgioFacade, Page
    from agio_core.tools._toolbox import ToolInfo

app = AgioTyper(help="List, show, create and delete agents.", no_args_is_help=True)

AGENT_FILE = typer.Option(
    ..., "--file", "-f", metavar="FILE.yaml", help="Agent YAML file ('-' reads stdin)."
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="agents")


@app.command("list")
def list_agents(
    ctx: typer.Context,
    tag: str | None = typer.Option(
        None, "--tag", "-t", metavar="TAG", help="Only agents with this tag."
    ),
    limit: int = typer.Option(100, "--limit", "-n", min=1, metavar="N", help="At most this many."),
    offset: int = typer.Option(0, "--offset", min=0, metavar="N", help="Skip this many."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print ids only."),
    as_json: bool = AS_JSON,
) -> None:
    """List agents (the built-in `assistant` included).

    \b
    Examples:
      agio agents list --tag default
      agio agents list -q
    """
    page = call(ctx, lambda agio: agio.list_agents(tag=tag, limit=limit, offset=offset))
    if as_json:
        page = page.model_copy(update={"items": [agent.redacted() for agent in page.items]})
        out.print_json(page.model_dump(mode="json"))
        return
    if quiet:
        for agent in page.items:
            out.write(agent.id + "\n")
        return
    out.table(
        ["id", "model", "name", "tags", "description"],
        ([a.id, a.model, a.name, ",".join(a.tags), a.description] for a in page.items),
    )
    out.cut_note(len(page.items), offset, page.total)


def agent_yaml(agent: Agent) -> str:
    """The agent as a YAML file that `agents create -f FILE --replace` reads back."""
    import yaml

    from agio_core import AgentSpec

    class BlockStyleDumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    BlockStyleDumper.add_representer(str, text)
    spec = agent.model_dump(mode="json", include=set(AgentSpec.model_fields))
    header = (
        f"# created {out.when(agent.created_at)}, updated {out.when(agent.updated_at)}; "
        f"model: {model_label(agent.model)}\n"
    )
    body = yaml.dump(spec, Dumper=BlockStyleDumper, sort_keys=False, allow_unicode=True)
    return header + body


@app.command("show")
def show(
    ctx: typer.Context,
    agent_id: str = typer.Argument(..., metavar="ID", help="Agent id."),
    as_json: bool = AS_JSON,
) -> None:
    """Show an agent, as YAML you can edit and create again with --replace.

    \b
    Example:
      agio agents show assistant > assistant.yaml
    """

    async def agent_and_tools(agio: AgioFacade) -> tuple[Agent, Page[ToolInfo]]:
        agent = await agio.get_agent(agent_id)
        return agent, await agio.list_tools(agent_id, limit=1000)

    agent, tools = call(ctx, agent_and_tools)
    agent = agent.redacted()  # as the API shows it: literal MCP env/header values hidden
    if as_json:
        out.print_json(agent.model_dump(mode="json"))
        return
    out.write(agent_yaml(agent))
    if tools.items:  # as comments: the YAML still reads back with `create -f --replace`
        out.write("# resolved tools (name, source, approval policy):\n")
        for tool in tools.items:
            detail = f"unavailable: {tool.error}" if tool.error else tool.policy
            out.write(f"#   {tool.name}  {tool.source}  {detail}\n")


@app.command("create")
def create(
    ctx: typer.Context,
    file: Path = AGENT_FILE,
    replace: bool = typer.Option(False, "--replace", help="Replace an agent with the same id."),
    as_json: bool = AS_JSON,
) -> None:
    """Create an agent from a YAML file (one agent per file; ${VAR} is substituted).

    \b
    Examples:
      agio agents create -f coder.yaml
      agio agents create -f coder.yaml --replace
    """
    from agio_core.agents import load_agent_file, load_agent_yaml

    if str(file) == "-":
        spec = load_agent_yaml(sys.stdin.read(), source="<stdin>")
    else:
        spec = load_agent_file(file)
    agent = call(ctx, lambda agio: agio.create_agent(spec, replace=replace))
    if as_json:
        out.print_json(agent.redacted().model_dump(mode="json"))
        return
    verb = "saved" if replace else "created"
    out.done(agent.id, f"{verb} agent [bold]{agent.id}[/] ({model_label(agent.model)})")


@app.command("delete")
def delete(
    ctx: typer.Context,
    agent_id: str = typer.Argument(..., metavar="ID", help="Agent id."),
) -> None:
    """Delete an agent (its past runs are kept).

    \b
    Example:
      agio agents delete coder
    """
    call(ctx, lambda agio: agio.delete_agent(agent_id))
    out.done(agent_id, f"deleted agent [bold]{agent_id}[/]")
