"""An agent's tools, resolved: which names the model gets, where each comes from, and the
approval policy of each (SPEC §8)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..errors import InvalidInputError
from ._mcp import McpPool, McpUnavailable
from ._policy import Policy, resolve_policy
from ._registry import IMPORT_PATH, Tool, import_tool
from .builtin import BUILTIN_TOOLS

if TYPE_CHECKING:
    from ..agents import McpServer

log = logging.getLogger("agio")
MCP_SEPARATOR = "__"


class ToolInfo(BaseModel):
    """One tool as `agio tools list` shows it."""

    name: str
    source: str  # "builtin", "python" or "mcp:SERVER"
    policy: Policy | None  # None when the tool could not be listed (see `error`)
    description: str = ""
    error: str | None = None


def _mcp_server_of(name: str) -> str | None:
    server, separator, _ = name.partition(MCP_SEPARATOR)
    return server if separator and server else None


def check_tool_names(names: Iterable[str], servers: Mapping[str, Any]) -> None:
    """Refuse names that are neither a built-in, a `module:function` path, nor
    `SERVER__TOOL` / `SERVER__*` of one of the agent's `mcp_servers`."""
    for name in names:
        if name in BUILTIN_TOOLS or IMPORT_PATH.match(name):
            continue
        server = _mcp_server_of(name)
        if server is not None and server in servers:
            continue
        if server is not None:
            known_servers = ", ".join(sorted(servers)) or "none"
            raise InvalidInputError(
                f"tools: {name!r}: no MCP server {server!r} in this agent's mcp_servers "
                f"(it has: {known_servers})"
            )
        known = ", ".join(sorted(BUILTIN_TOOLS))
        raise InvalidInputError(
            f"unknown tool {name!r}: use a built-in ({known}), 'module:function', "
            "or SERVER__TOOL / SERVER__* for a server in mcp_servers"
        )


@dataclass
class Toolbox:
    """The tools of one run, their policies, and the MCP servers that could not be had."""

    tools: dict[str, Tool] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # server -> why

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.openai_schema() for tool in self.tools.values()]

    def missing(self, name: str) -> str:
        """What to tell the model that called `name`, which is not among the tools."""
        server = _mcp_server_of(name)
        if server is not None and server in self.unavailable:
            return self.unavailable[server]
        return f"unknown tool {name!r}: this agent has {sorted(self.tools)}"

    def infos(self) -> list[ToolInfo]:
        items = [
            ToolInfo(
                name=tool.name,
                source=tool.source,
                policy=self.policies[tool.name],
                description=tool.description.strip().split("\n")[0],
            )
            for tool in self.tools.values()
        ]
        items += [
            ToolInfo(name=f"{server}__*", source=f"mcp:{server}", policy=None, error=why)
            for server, why in self.unavailable.items()
        ]
        return items


async def build_toolbox(
    names: Iterable[str],
    servers: Mapping[str, McpServer],
    approval: Mapping[str, Policy],
    pool: McpPool,
) -> Toolbox:
    """Resolve an agent's `tools` (starting its MCP servers if need be) and their policies."""
    names = list(names)
    check_tool_names(names, servers)
    box = Toolbox()
    listed: dict[str, list[Tool]] = {}
    for name in names:
        server = _mcp_server_of(name) if name not in BUILTIN_TOOLS else None
        if server is None:
            tool = BUILTIN_TOOLS[name] if name in BUILTIN_TOOLS else import_tool(name)
            box.tools[tool.name] = tool
            continue
        if server in box.unavailable:
            continue
        if server not in listed:
            try:
                listed[server] = list(await pool.tools(server, servers[server]))
            except McpUnavailable as exc:
                log.warning("%s", exc)
                box.unavailable[server] = str(exc)
                continue
        matched = [t for t in listed[server] if fnmatchcase(t.name, name)]
        if not matched and not any(char in name for char in "*?["):
            log.warning("MCP server %r has no tool %r", server, name)
        for tool in matched:
            box.tools[tool.name] = tool
    for tool in box.tools.values():
        box.policies[tool.name] = resolve_policy(tool.name, approval, tool.default_policy)
    return box


def builtin_infos() -> list[ToolInfo]:
    """Every built-in tool with its default policy: what an agent may list in `tools`."""
    return [
        ToolInfo(
            name=tool.name,
            source=tool.source,
            policy=tool.default_policy,
            description=tool.description.strip().split("\n")[0],
        )
        for tool in BUILTIN_TOOLS.values()
    ]
