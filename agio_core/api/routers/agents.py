"""Agents: list, get, create, update, delete."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ...agents import Agent, AgentSpec, host_powers
from ...errors import InvalidInputError, NotFoundError
from ...service import Page
from ...settings import Settings
from ..deps import AgioDep
from ..errors import error_responses
from ..schemas import AgentUpdate

# Every agent answered is `.redacted()`: literal MCP env/header values are hidden (a PUT of
# the hidden value keeps the stored one); `${VAR}` references are shown as written.
router = APIRouter(prefix="/api/agents", tags=["agents"])
AUTH = error_responses(401)


def _host_only(spec: AgentSpec, settings: Settings, verb: str) -> None:
    """SPEC §8: an agent that can run code on the host is defined on the host, never here.

    Such agents (defined with `agio agents create -f` or YAML) are then used through the API
    like any other; they just cannot be made or changed by a client.
    """
    reasons = host_powers(spec, settings)
    if reasons:
        raise InvalidInputError(
            f"an agent that can run code on the server host or read its environment cannot be "
            f"{verb} over HTTP "
            f"({'; '.join(reasons)}); define it on the host (agio agents create -f FILE)"
        )


@router.get("", response_model=Page[Agent], responses=AUTH, summary="List agents")
async def list_agents(
    agio: AgioDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    tag: Annotated[str | None, Query(description="Only agents with this tag.")] = None,
) -> Page[Agent]:
    page = await agio.list_agents(tag=tag or None, limit=limit, offset=offset)
    return page.model_copy(update={"items": [agent.redacted() for agent in page.items]})


@router.get(
    "/{agent_id}", response_model=Agent, responses=error_responses(401, 404), summary="Get agent"
)
async def get_agent(agio: AgioDep, agent_id: str) -> Agent:
    return (await agio.get_agent(agent_id)).redacted()


@router.post(
    "",
    response_model=Agent,
    status_code=201,
    responses=error_responses(401, 409, 413, 422),
    summary="Create an agent (extension)",
)
async def create_agent(
    agio: AgioDep,
    spec: AgentSpec,
    replace: Annotated[
        bool, Query(description="(extension) Overwrite an agent with the same id.")
    ] = False,
) -> Agent:
    _host_only(spec, agio.settings, "created")
    if replace:
        with contextlib.suppress(NotFoundError):
            _host_only(await agio.get_agent(spec.id), agio.settings, "replaced")
    return (await agio.create_agent(spec, replace=replace)).redacted()


@router.put(
    "/{agent_id}",
    response_model=Agent,
    responses=error_responses(401, 404, 413, 422),
    summary="Replace an agent's definition (extension)",
)
async def update_agent(agio: AgioDep, agent_id: str, spec: AgentUpdate) -> Agent:
    _host_only(spec, agio.settings, "given these tools")
    _host_only(await agio.get_agent(agent_id), agio.settings, "changed")
    fields = spec.model_dump()
    fields["id"] = fields["id"] or agent_id
    return (await agio.update_agent(agent_id, fields)).redacted()


@router.delete(
    "/{agent_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 404, 409),
    summary="Delete an agent",
)
async def delete_agent(agio: AgioDep, agent_id: str) -> Response:
    await agio.delete_agent(agent_id)
    return Response(status_code=204)
