"""A run's event stream, and the stream tokens that let a browser `EventSource` join it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse

from ...errors import InvalidInputError
from ..auth import request_key, require_api_key, require_api_key_or_stream_token
from ..deps import AgioDep
from ..errors import error_responses
from ..schemas import StreamTokenOut
from ..sse import SSE_RESPONSE, event_stream
from ..stream_tokens import StreamTokens

router = APIRouter(prefix="/api/runs", tags=["runs"])


def _replay_point(last_event_id: str | None, after_seq: int) -> int:
    if last_event_id is None or not last_event_id.strip():
        return after_seq
    seq = last_event_id.strip()
    if not (seq.isascii() and seq.isdigit()):
        raise InvalidInputError("Last-Event-ID: must be an event seq (a whole number)")
    return int(seq)


@router.get(
    "/{run_id}/events",
    response_class=EventSourceResponse,
    responses={**SSE_RESPONSE, **error_responses(401, 404, 422)},
    dependencies=[Depends(require_api_key_or_stream_token)],
    summary="Join a run's event stream (extension)",
    description="Replays the run's events after `Last-Event-ID` (header, as sent by a "
    "reconnecting browser `EventSource`) or `after_seq`, then follows a live run until it "
    "ends or pauses. With AGIO_API_KEYS set, send a bearer key, or `?token=` from "
    "`POST /api/runs/{run_id}/stream-token`.",
)
async def run_events(
    agio: AgioDep,
    run_id: str,
    after_seq: Annotated[int, Query(ge=0, description="Replay events after this seq.")] = 0,
    follow: Annotated[bool, Query(description="Wait for the events still to come.")] = True,
    last_event_id: Annotated[str | None, Header(description="Overrides after_seq.")] = None,
) -> EventSourceResponse:
    await agio.get_run(run_id)
    start = _replay_point(last_event_id, after_seq)
    return event_stream(agio, run_id, after_seq=start, follow=follow)


@router.post(
    "/{run_id}/stream-token",
    response_model=StreamTokenOut,
    responses=error_responses(401, 404),
    dependencies=[Depends(require_api_key)],
    summary="A token for joining the run's events from a browser",
    description="A browser `EventSource` cannot send an Authorization header: ask for a "
    "token with your key (from your backend), then open `events_url`. The token admits only "
    "to this run's `GET /api/runs/{run_id}/events`, until `expires_at` "
    "(AGIO_STREAM_TOKEN_TTL_S, default 10 minutes); a stream already open goes on past it. "
    "Without AGIO_API_KEYS the events need no token; one is still returned.",
)
async def stream_token(
    agio: AgioDep,
    request: Request,
    run_id: str,
    api_key: Annotated[bytes | None, Depends(request_key)],
) -> StreamTokenOut:
    await agio.get_run(run_id)
    tokens: StreamTokens = request.app.state.stream_tokens
    minted = tokens.mint(run_id, api_key if request.app.state.api_keys else None)
    events_url = request.url_for("run_events", run_id=run_id).include_query_params(
        token=minted.token
    )
    return StreamTokenOut(
        token=minted.token,
        expires_at=datetime.fromtimestamp(minted.expires, UTC),
        events_url=str(events_url),
    )
