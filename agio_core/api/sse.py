"""Run events as Server-Sent Events: `id:` = seq, `event:` = type, `data:` = the event JSON.

A stream only reads the run's event log, so a client that goes away never stops the run (it
can join again at `/api/runs/{run_id}/events`), unless it asked for `on_disconnect: cancel`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sse_starlette import EventSourceResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import AgioError
from ..events import EVENT_ADAPTER, EVENT_TYPES, Event
from ..service import Agio
from ..settings import Settings
from .schemas import OnDisconnect

log = logging.getLogger("agio.api")

# While tokens stream, at most one write per stream this often, unless enough events piled up
# for a write of their own (`COALESCE_MAX_EVENTS`): a model streaming slowly has its tokens
# sent one or two a write (a write, through sse-starlette, the ASGI stack and the socket,
# costs more than a token), one streaming fast in steady batches; the first token and the
# stream's end are written at once. 30 ms: at 50 tokens/s one or two tokens a write, never
# more than 30 ms late (bench/serve_capacity.py).
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


# Where `BodySendShortcut` leaves the `send` from outside the app's own layers.
_BODY_SEND = "agio.body_send"


class BodySendShortcut:
    """Outermost of the app's middlewares: puts the `send` it is given into the scope, so an
    event stream can send its body frames past the layers inside it.

    Every layer between here and the route (Starlette's exception handlers, which only note
    that the response started; CORS, which only adds headers to the response start; ours,
    which only refuse requests) wraps `send` for the response start alone and passes body
    messages on as they are. Each wrapper is an await more per frame, and a stream sends a
    frame per token or two (bench/serve_capacity.py): the response start still goes through
    all of them, the frames after it do not. A middleware that changed bodies (compression)
    would have to sit outside this one, where it still sees every frame.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_BODY_SEND] = send
        await self.app(scope, receive, send)


class _EventStreamResponse(EventSourceResponse):
    """sse-starlette's response (keepalive comments, client disconnects, server shutdown)
    with a cheaper send path, which drops clients that stopped reading quietly and ends the
    HTTP response properly when the server shuts down mid-stream (sse-starlette cancels the
    stream without its last chunk, which clients would see as a broken connection).

    The send timeout is watched, not armed per send: sse-starlette enters an anyio cancel
    scope with a deadline for every frame (a timer made and cancelled: a seventh of the relay's
    CPU at 300 streams, docs/performance.md), although a send only ever waits when the
    client's socket is full. Here a send notes when it began; one watcher per stream checks
    every quarter of the timeout and drops the client once a send has waited the whole
    timeout (so within 1.25 times it).
    """

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
        self._body_send: Send | None = None
        self._started = False
        self._sends_waiting = 0  # the stream's and the keepalive's
        self._sending_since: float | None = None  # since when a send has been waiting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ended = False

        async def tracking_send(message: Message) -> None:
            # Only the response start and its end come this way (see _send_with_timeout).
            nonlocal ended
            self._started = self._started or message["type"] == "http.response.start"
            ended = ended or (
                message["type"] == "http.response.body" and not message.get("more_body")
            )
            await send(message)

        self._body_send = scope.get(_BODY_SEND, send)
        with anyio.CancelScope() as stalled:
            watcher = asyncio.create_task(self._watch_sends(stalled))
            try:
                await super().__call__(scope, receive, tracking_send)
            finally:
                watcher.cancel()
        if stalled.cancelled_caught:
            # uvicorn then closes the connection (and logs that the response was not finished).
            log.warning(
                "dropped an event stream client that took nothing for %g s (the run goes on)",
                self.send_timeout,
            )
            return
        if self._started and not ended and self.shutting_down.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch_sends(self, stalled: anyio.CancelScope) -> None:
        assert self.send_timeout is not None
        while True:
            await anyio.sleep(self.send_timeout / 4)
            since = self._sending_since
            if since is not None and time.monotonic() - since >= self.send_timeout:
                stalled.cancel()  # cancels the whole response: its stream, keepalive, ...
                return

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        """Frames and keepalives (sse-starlette sends the response start and end itself)."""
        if self._started and message.get("more_body") and self._body_send is not None:
            send = self._body_send
        if not self._sends_waiting:
            self._sending_since = time.monotonic()
        self._sends_waiting += 1
        try:
            await send(message)
        finally:
            self._sends_waiting -= 1
            # Another send still waiting: the client took this one, so its wait starts now.
            self._sending_since = time.monotonic() if self._sends_waiting else None


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
        batches = agio.event_batches(
            run_id, after_seq=after_seq, follow=follow, coalesce_s=SEND_INTERVAL_S
        )
        ended = False
        try:
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    yield b"".join([encode(event) for event in batch])
            ended = True
        finally:
            if not ended and on_disconnect == "cancel" and not shutting_down.is_set():
                # On server shutdown the run is left interrupted (resumable), not cancelled.
                with anyio.CancelScope(shield=True), contextlib.suppress(AgioError):
                    await agio.cancel_run(run_id, reason="client disconnected", wait=0)

    return _EventStreamResponse(frames(), shutting_down, agio.settings)
