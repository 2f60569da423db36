"""Runs: list, get, start, pause / resume / cancel, and their fork tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ...checkpoints import TreeNode
from ...runs import RunStatus
from ...service import Page
from ..deps import AgioDep
from ..errors import error_responses
from ..schemas import (
    ApprovalsRequest,
    CancelRequest,
    DecidedOut,
    ResumedOut,
    RunOut,
    RunStartRequest,
    UserId,
    run_out,
)

router = APIRouter(prefix="/api/runs", tags=["runs"])

ControlWait = Annotated[
    float,
    Query(ge=0, le=60, description="(extension) Seconds to wait for the run to act on it."),
]


@router.get("", response_model=Page[RunOut], responses=error_responses(401), summary="List runs")
async def list_runs(
    agio: AgioDep,
    agent_id: str | None = None,
    status: RunStatus | None = None,
    session_id: str | None = None,
    user_id: Annotated[UserId, Query(description="Only this user's runs.")] = None,
    q: Annotated[
        str | None, Query(max_length=1000, description="Text in the input or the answer.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[RunOut]:
    page = await agio.list_runs(
        agent_id=agent_id,
        status=status,
        session_id=session_id,
        user_id=user_id,
        search=q,
        limit=limit,
        offset=offset,
    )
    return Page[RunOut](
        total=page.total, items=[run_out(r) for r in page.items], limit=limit, offset=offset
    )


@router.post(
    "",
    response_model=RunOut,
    status_code=201,
    responses=error_responses(401, 404, 409, 413, 422),
    summary="Start a run in the background (extension)",
    description="Like `POST /api/chat` but returns the new run at once; follow it at "
    "`/api/runs/{run_id}/events`.",
)
async def start_run(agio: AgioDep, body: RunStartRequest) -> RunOut:
    handle = await agio.start_chat(
        body.agent_id,
        body.message,
        session_id=body.session_id,
        user_id=body.user_id,
        model=body.model,
        system_prompt=body.system_prompt,
        model_params=body.model_params,
        attachments=body.attachments,
    )
    return run_out(await agio.get_run(handle.run_id))


@router.get(
    "/{run_id}",
    response_model=RunOut,
    responses=error_responses(401, 404),
    summary="Get a run (extension)",
)
async def get_run(agio: AgioDep, run_id: str) -> RunOut:
    return run_out(await agio.get_run(run_id))


@router.delete(
    "/{run_id}",
    status_code=204,
    responses=error_responses(401, 404, 409),
    summary="Delete a run (extension)",
    description="Not while it runs (409). Runs that build on it (the next runs of its "
    "session, forks of its checkpoints) get a copy of what they need and keep working.",
)
async def delete_run(agio: AgioDep, run_id: str) -> Response:
    await agio.delete_run(run_id)
    return Response(status_code=204)


@router.post(
    "/{run_id}/pause",
    response_model=RunOut,
    responses=error_responses(401, 404, 409),
    summary="Pause a running run",
    description="Honoured at the run's next safe point, which leaves a checkpoint; the run "
    "is returned once paused (or after `wait` seconds).",
)
async def pause_run(agio: AgioDep, run_id: str, wait: ControlWait = 10.0) -> RunOut:
    return run_out(await agio.pause_run(run_id, wait=wait))


@router.post(
    "/{run_id}/resume",
    response_model=ResumedOut,
    responses=error_responses(401, 404, 409),
    summary="Resume a paused or interrupted run",
    description="The run goes on in this server from its last checkpoint; returns at once. "
    "Follow it at `/api/runs/{run_id}/events`.",
)
async def resume_run(agio: AgioDep, run_id: str) -> ResumedOut:
    handle = await agio.resume_run(run_id)
    run = await agio.get_run(handle.run_id)
    return ResumedOut(**run_out(run).model_dump(), first_seq=handle.first_seq)


@router.post(
    "/{run_id}/cancel",
    response_model=RunOut,
    responses=error_responses(401, 404, 409, 413, 422),
    summary="Cancel a run",
    description="Immediate: the model stream and running tools are aborted, partial output "
    "is kept. The body is optional.",
)
async def cancel_run(
    agio: AgioDep, run_id: str, body: CancelRequest | None = None, wait: ControlWait = 10.0
) -> RunOut:
    reason = (body or CancelRequest()).reason
    return run_out(await agio.cancel_run(run_id, reason=reason, wait=wait))


@router.post(
    "/{run_id}/approvals",
    response_model=DecidedOut,
    responses=error_responses(401, 404, 409, 413, 422),
    summary="Approve or deny the tool calls a run waits on (v2)",
    description="Each decision is stored at once; once no call is undecided the run goes on "
    "in this server (approved calls run, denied ones get an error result with the reason) "
    "and `first_seq` says where its events start. 409 if nothing waits for a decision; 422 "
    "for a `tool_call_id` that is not pending.",
)
async def decide(agio: AgioDep, run_id: str, body: ApprovalsRequest) -> DecidedOut:
    handle = await agio.decide_and_continue(run_id, body.decisions, remember=body.remember)
    run = run_out(await agio.get_run(run_id))
    return DecidedOut(**run.model_dump(), first_seq=handle.first_seq if handle else None)


@router.get(
    "/{run_id}/tree",
    response_model=TreeNode,
    responses=error_responses(401, 404),
    summary="The fork tree the run belongs to (extension)",
)
async def run_tree(agio: AgioDep, run_id: str) -> TreeNode:
    return await agio.checkpoint_tree(run_id)
