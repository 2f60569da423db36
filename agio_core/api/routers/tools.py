"""Tools: what an agent can call, where each tool comes from, and its approval policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ...service import Page
from ...tools._toolbox import ToolInfo
from ..deps import AgioDep
from ..errors import error_responses

router = APIRouter(prefix="/api/tools", tags=["tools"])


@router.get(
    "",
    response_model=Page[ToolInfo],
    responses=error_responses(401, 404),
    summary="List tools (extension)",
    description="The tools of `agent_id` (its MCP servers are started to list theirs), "
    "or without it every built-in tool with its default approval policy.",
)
async def list_tools(
    agio: AgioDep,
    agent_id: Annotated[str | None, Query(description="The agent whose tools to list.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[ToolInfo]:
    return await agio.list_tools(agent_id or None, limit=limit, offset=offset)
