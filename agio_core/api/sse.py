"""Run events as Server-Sent Events: `id:` = seq, `event:` = type, `data:` = the event JSON.

A stream only reads the run's event log, so a client that goes away never stops the run (it
can join again at `/api/runs/{run_id}/events`), unless it asked for `on_disconnect: cancel`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sse_starlette import EventSourceResponse
from sse_starlette.sse import SendTimeoutError
from starlette.types import Message, Receive, Scope, Send

from ..errors import AgioError
from ..events import EVENT_ADAPTER, EVENT_TYPES, Event
from ..service import Agio
from ..settings import Settings
from .schemas import OnDisconnect

log = logging.getLogger("agio.api")

# While tokens stream, at most one write per stream this often: a model streaming faster
# than this has its tokens sent in batches (a write, through sse-starlette, the ASGI stack
# and the socket, costs more than a token); the first token and every other event are
# written at once. 30 ms: at 50 tokens/s one or two tokens a write, never more than 30 ms
# late (bench/serve_capacity.py).
SEND_INTERVAL_S = 0.03

# OpenAPI < 3.2: the `schema` of an event stream describes one event; `data:` is the event's
# JSON, whose schema (`Event`, the union of the event models) `event_schemas` adds.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The event's seq."},
        "event": {"type": "string", "enum": list(EVENT_TYPES)},
        "data": {
            "type": "string",
            "description": "The whole event as JSON: {seq, type, run_id, ts, ...its fields}.",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/Event"},
        },
    },
}


def event_schemas() -> dict[str, Any]:
    """OpenAPI components: one schema per event model, and `Event`, their union on `type`."""
    union = EVENT_ADAPTER.json_schema(
        mode="serialization", ref_template="#/components/schemas/{model}"
    )
    return {**union.pop("$defs"), "Event": union}


SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: one per run event (SPEC §3), keepalive comments "
        "every 15 s (AGIO_SSE_KEEPALIVE_S); the stream ends after run_completed, run_failed, "
        "run_cancelled or run_paused.",
        "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
    }
}


def encode(event: Event) -> bytes:
    """One SSE frame, of the event's one JSON encoding (which escapes newlines, so the event
    fits on one `data:` line)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.seq, event.type.encode(), event.json_bytes)


class _EventStreamResponse(EventSourceResponse):
    """Drops clients that stopped reading quietly, and ends the HTTP response properly when
    the server shuts down mid-stream (sse-starlette cancels the stream without its last
    chunk, which clients would see as a broken connection)."""

    def __init__(
        self, frames: AsyncIterator[bytes], shutting_down: anyio.Event, settings: Settings
    ) -> None:
        super().__init__(
            frames,
            ping=settings.sse_keepalive_s,
            send_timeout=settings.sse_send_timeout_s,
            shutdown_event=shutting_down,
            sep="\n",
        )
        self.shutting_down = shutting_down

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = ended = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, ended
            started = started or message["type"] == "http.response.start"
            ended = ended or (
                message["type"] == "http.response.body" and not message.get("more_body")
            )
            await send(message)

        try:
            await super().__call__(scope, receive, tracking_send)
        except BaseException as exc:
            if not _send_timed_out(exc):
                raise
            # uvicorn then closes the connection (and logs that the response was not finished).
            log.warning(
                "dropped an event stream client that took nothing for %g s (the run goes on)",
                self.send_timeout,
            )
            return
        if started and not ended and self.shutting_down.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


def _send_timed_out(exc: BaseException) -> bool:
    """Whether `exc` is the send timeout, alone or several times over: the keepalive and
    the event stream each send with the timeout, and when a stuck client makes both time
    out (the stream's cleanup outlasting the keepalive's deadline, as on a loaded machine)
    the task group raises them together, which sse-starlette does not unwrap."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_send_timed_out(inner) for inner in exc.exceptions)
    return isinstance(exc, SendTimeoutError)


def event_stream(
    agio: Agio,
    run_id: str,
    *,
    after_seq: int = 0,
    follow: bool = True,
    on_disconnect: OnDisconnect = "continue",
) -> EventSourceResponse:
    """The run's events after `after_seq` as SSE (the run must be known to exist)."""
    shutting_down = anyio.Event()

    async def frames() -> AsyncIterator[bytes]:
        batches = agio.event_batches(run_id, after_seq=after_seq, follow=follow)
        ended = False
        try:
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    yield b"".join([encode(event) for event in batch])
                    if batch[-1].type == "content_delta":
                        # Tokens come fast: let the next ones pile up for one interval.
                        await asyncio.sleep(SEND_INTERVAL_S)
            ended = True
        finally:
            if not ended and on_disconnect == "cancel" and not shutting_down.is_set():
                # On server shutdown the run is left interrupted (resumable), not cancelled.
                with anyio.CancelScope(shield=True), contextlib.suppress(AgioError):
                    await agio.cancel_run(run_id, reason="client disconnected", wait=0)

    return _EventStreamResponse(frames(), shutting_down, agio.settings)
