"""Checkpoints: list, get, manual create, restore, fork, and diff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Response

from ...checkpoints import Checkpoint, CheckpointSummary, MessageDiff
from ...service import Agio, Page, RunHandle
from ..deps import AgioDep
from ..errors import error_responses
from ..schemas import CheckpointCreate, ContinuationOut, ForkRequest, RestoreRequest, run_out
from ..sse import SSE_RESPONSE, event_stream

router = APIRouter(prefix="/api/checkpoints", tags=["checkpoints"])
CONTINUATION_RESPONSES = {**SSE_RESPONSE, **error_responses(401, 404, 409, 413, 422)}


@router.get(
    "/runs/{run_id}/checkpoints",
    response_model=Page[CheckpointSummary],
    responses=error_responses(401, 404, 422),
    summary="List a run's checkpoints",
    description="Oldest first, a page at a time; `total` is how many the run has.",
)
async def list_checkpoints(
    agio: AgioDep,
    run_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[CheckpointSummary]:
    return await agio.list_checkpoints(run_id, limit=limit, offset=offset)


@router.post(
    "/runs/{run_id}/checkpoints",
    response_model=CheckpointSummary,
    status_code=201,
    responses=error_responses(401, 404, 409, 413, 422),
    summary="Checkpoint a run that is not running (manual)",
)
async def create_checkpoint(
    agio: AgioDep, run_id: str, body: CheckpointCreate | None = None
) -> CheckpointSummary:
    request = body or CheckpointCreate()
    return await agio.create_checkpoint(run_id, description=request.description, tags=request.tags)


@router.get(
    "/{checkpoint_id}",
    response_model=Checkpoint,
    responses=error_responses(401, 404),
    summary="Get a checkpoint with its messages",
)
async def get_checkpoint(agio: AgioDep, checkpoint_id: str) -> Checkpoint:
    return await agio.get_checkpoint(checkpoint_id)


async def _continue(
    agio: Agio, start: Callable[[], Awaitable[RunHandle]], *, stream: bool
) -> ContinuationOut | Response:
    handle = await start()
    if stream:
        return event_stream(agio, handle.run_id, after_seq=handle.first_seq - 1)
    run = await agio.get_run(handle.run_id)
    return ContinuationOut(run_id=handle.run_id, first_seq=handle.first_seq, run=run_out(run))


@router.post(
    "/{checkpoint_id}/restore",
    response_model=ContinuationOut,
    responses=CONTINUATION_RESPONSES,
    summary="Continue from a checkpoint",
    description="In a new run (`create_new_run: true`, default), or by rewinding the "
    "checkpoint's own run, whose later checkpoints are then marked superseded. The run goes on "
    "in the background; with `stream: true` its events come back as SSE.",
)
async def restore_checkpoint(
    agio: AgioDep, checkpoint_id: str, body: RestoreRequest | None = None
) -> ContinuationOut | Response:
    request = body or RestoreRequest()

    def start() -> Awaitable[RunHandle]:
        return agio.restore_checkpoint(
            checkpoint_id,
            create_new_run=request.create_new_run,
            modifications=request.modifications,
        )

    return await _continue(agio, start, stream=request.stream)


@router.post(
    "/{checkpoint_id}/fork",
    response_model=ContinuationOut,
    responses=CONTINUATION_RESPONSES,
    summary="Fork a new run from a checkpoint",
    description="The source run is left untouched. The new run goes on in the background; "
    "with `stream: true` its events come back as SSE.",
)
async def fork_checkpoint(
    agio: AgioDep, checkpoint_id: str, body: ForkRequest | None = None
) -> ContinuationOut | Response:
    request = body or ForkRequest()

    def start() -> Awaitable[RunHandle]:
        return agio.fork_checkpoint(checkpoint_id, modifications=request.modifications)

    return await _continue(agio, start, stream=request.stream)


@router.get(
    "/{a}/diff/{b}",
    response_model=MessageDiff,
    responses=error_responses(401, 404),
    summary="Compare two checkpoints' messages (extension)",
)
async def diff_checkpoints(agio: AgioDep, a: str, b: str) -> MessageDiff:
    return await agio.diff_checkpoints(a, b)
