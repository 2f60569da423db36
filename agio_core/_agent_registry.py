"""The agents a store holds, and the built-in default one: lookup, listing, writes checked
(model, tools) before anything is stored, and the tools each agent can use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._time import utcnow
from .agents import DEFAULT_AGENT_ID, Agent, AgentSpec, default_agent, parse_agent_spec
from .errors import ConflictError, InvalidInputError, NotFoundError
from .providers import split_model
from .tools._toolbox import ToolInfo, build_toolbox, builtin_infos, check_tool_names

if TYPE_CHECKING:
    from .settings import Settings
    from .store import Store
    from .tools._mcp import McpPool


def _validated(spec: AgentSpec | dict[str, Any]) -> AgentSpec:
    parsed = spec if isinstance(spec, AgentSpec) else parse_agent_spec(spec, source="agent")
    split_model(parsed.model)
    check_tool_names(parsed.tools, parsed.mcp_servers)
    return parsed


class AgentRegistry:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def _default(self) -> Agent:
        return default_agent(self.settings.default_model)

    async def get(self, agent_id: str) -> Agent:
        agent = await self.store.get_agent(agent_id)
        if agent is None and agent_id == DEFAULT_AGENT_ID:
            return self._default()
        if agent is None:
            raise NotFoundError(f"agent not found: {agent_id!r}")
        return agent

    async def listed(self, tag: str | None) -> list[Agent]:
        """Every agent (with `tag`), by id; the built-in one unless the store overrides it."""
        agents = await self.store.list_agents(tag)
        if not any(a.id == DEFAULT_AGENT_ID for a in agents):
            default = self._default()
            if tag is None or tag in default.tags:
                agents = sorted([*agents, default], key=lambda a: a.id)
        return agents

    async def create(self, spec: AgentSpec | dict[str, Any], *, replace: bool) -> Agent:
        parsed = _validated(spec)
        existing = await self.store.get_agent(parsed.id)
        if existing is not None and not replace:
            raise ConflictError(f"agent {parsed.id!r} already exists")
        created_at = existing.created_at if existing else utcnow()
        if existing is not None:
            parsed = parsed.keeping_hidden(existing)  # a listing's `***` keeps the value
        agent = Agent(**parsed.model_dump(), created_at=created_at, updated_at=utcnow())
        await self.store.put_agent(agent)
        return agent

    async def update(self, agent_id: str, spec: AgentSpec | dict[str, Any]) -> Agent:
        data = spec.model_dump() if isinstance(spec, AgentSpec) else dict(spec)
        data.setdefault("id", agent_id)
        if data["id"] != agent_id:
            raise InvalidInputError(f"id: cannot change an agent's id ({agent_id!r})")
        current = await self.get(agent_id)
        parsed = _validated(data).keeping_hidden(current)
        agent = Agent(**parsed.model_dump(), created_at=current.created_at, updated_at=utcnow())
        await self.store.put_agent(agent)
        return agent

    async def tools(self, agent_id: str | None, mcp: McpPool) -> list[ToolInfo]:
        """The tools agent `agent_id` can use (its MCP servers are started to list theirs);
        without an agent, every built-in tool with its default policy."""
        if agent_id is None:
            return builtin_infos()
        agent = await self.get(agent_id)
        box = await build_toolbox(agent.tools, agent.mcp_servers, agent.approval, mcp)
        return box.infos()

    async def delete(self, agent_id: str) -> None:
        if not await self.store.delete_agent(agent_id):
            if agent_id == DEFAULT_AGENT_ID:
                raise ConflictError(
                    "the default agent 'assistant' is built in and cannot be deleted"
                )
            raise NotFoundError(f"agent not found: {agent_id!r}")
