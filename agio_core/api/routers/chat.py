"""`POST /api/chat`: one message to an agent, streamed as SSE or answered as JSON."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..deps import AgioDep
from ..errors import error_responses
from ..schemas import ChatRequest, ChatResponse
from ..sse import SSE_RESPONSE, event_stream

router = APIRouter(tags=["chat"])


@router.post(
    "/api/chat",
    response_model=ChatResponse,
    responses={**SSE_RESPONSE, **error_responses(401, 404, 409, 413, 422)},
    summary="Chat with an agent",
    description="With `stream: true` (default) the run's events as SSE; with `stream: false` "
    "the answer once the run ends. A streaming client that disconnects leaves the run going "
    "(re-join it at `/api/runs/{run_id}/events`) unless it sent `on_disconnect: cancel`.",
)
async def chat(agio: AgioDep, body: ChatRequest) -> ChatResponse | Response:
    if body.stream:
        handle = await agio.start_chat(
            body.agent_id, body.message, session_id=body.session_id, user_id=body.user_id
        )
        return event_stream(agio, handle.run_id, on_disconnect=body.on_disconnect)
    run = await agio.chat(
        body.agent_id, body.message, session_id=body.session_id, user_id=body.user_id
    )
    return ChatResponse(
        run_id=run.id, response=run.response, metrics=run.metrics, status=run.status
    )
