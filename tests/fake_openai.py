"""A real, loopback OpenAI-compatible HTTP server for tests and benchmarks.

``FakeOpenAIServer`` runs a tiny ASGI app under uvicorn in a background thread on
``127.0.0.1`` (free port) and speaks the real chat-completions protocol, including
SSE streaming, so it can be driven by the real ``openai`` client over real sockets::

    with FakeOpenAIServer() as server:
        server.queue(TextReply(["Hel", "lo"]), ToolCallsReply([ToolCall("ls", {"path": "."})]))
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].body["model"] == "gpt-4o-mini"

Scripts are consumed one per ``POST /v1/chat/completions`` request, FIFO. When the
queue is empty, ``server.default`` (a short ``"ok"`` text reply) is served, so
unexpected requests are visible instead of hanging.

Run ``python tests/fake_openai.py --port 8765 --words 2000`` to serve a
fast N-word text stream to every request (for throughput benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import Any, Literal, TypeAlias

import uvicorn

__all__ = [
    "EmptyReply",
    "FakeOpenAIServer",
    "HttpErrorReply",
    "MalformedReply",
    "RecordedRequest",
    "Script",
    "StreamErrorReply",
    "TextReply",
    "ToolCall",
    "ToolCallsReply",
    "Usage",
]

_ASGIMessage: TypeAlias = MutableMapping[str, Any]
_Receive: TypeAlias = Callable[[], Awaitable[_ASGIMessage]]
_Send: TypeAlias = Callable[[_ASGIMessage], Awaitable[None]]

_FINGERPRINT = "fp_fake"
_SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"
_VALIDATION_MESSAGE = (
    "1 validation error for ChatCompletionRequestAssistantMessage\n"
    "content\n"
    "  Input should be a valid string [type=string_type, input_value=None, input_type=NoneType]"
)


# --------------------------------------------------------------------------- scripts


@dataclass(frozen=True)
class Usage:
    """Token usage reported for a reply (``total_tokens`` is derived)."""

    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class TextReply:
    """Plain assistant text; each item of ``chunks`` is streamed as its own chunk.

    The first content chunk also carries ``role: "assistant"``. ``delay`` seconds are
    slept before every content chunk (headers are sent first), for slow-stream and
    cancellation tests. ``usage=None`` computes deterministic word-count usage;
    ``report_usage=False`` sends none even when asked (llama.cpp's server ignores
    ``stream_options``). ``finish_reason=None`` ends the stream with ``[DONE]`` but no
    finish chunk, as llama.cpp's server does when another request interrupts it.
    """

    chunks: Sequence[str] = ("ok",)
    delay: float = 0.0
    finish_reason: str | None = "stop"
    usage: Usage | None = None
    report_usage: bool = True
    model: str | None = None  # None: echo the request's model

    @classmethod
    def from_text(cls, text: str, *, delay: float = 0.0, usage: Usage | None = None) -> TextReply:
        """Split ``text`` into one chunk per word (leading spaces kept, so they re-join)."""
        return cls(chunks=_split_words(text), delay=delay, usage=usage)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@dataclass(frozen=True)
class ToolCall:
    """One function call. ``arguments`` is a JSON string or a mapping (JSON-encoded)."""

    name: str
    arguments: str | Mapping[str, Any] = "{}"
    id: str | None = None  # None: a deterministic "call_<request>_<n>" id is generated

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class ToolCallsReply:
    """Assistant tool calls, streamed as ``delta.tool_calls`` fragments.

    Per call: a first fragment with ``index``, ``id``, ``type: "function"``,
    ``function.name`` and ``function.arguments: ""``, then fragments carrying only
    ``index`` and ``arg_chunk_size``-character slices of the arguments (split mid-JSON).
    Calls use index 0, 1, ... unless ``reuse_index`` is set, in which case every call
    uses index 0 and a new call is recognisable only by its new ``id`` (older
    vLLM/Ollama behaviour). With ``repeat_head`` every fragment carries the call's
    ``id``, ``type`` and whole ``name`` again (llama.cpp's server). Optional ``content``
    chunks are streamed before the calls.
    """

    calls: Sequence[ToolCall]
    content: Sequence[str] = ()
    arg_chunk_size: int = 7
    reuse_index: bool = False
    repeat_head: bool = False
    delay: float = 0.0
    finish_reason: str | None = "tool_calls"
    usage: Usage | None = None
    report_usage: bool = True
    model: str | None = None

    def __post_init__(self) -> None:
        if self.arg_chunk_size < 1:
            raise ValueError("arg_chunk_size must be >= 1")


@dataclass(frozen=True)
class HttpErrorReply:
    """An HTTP error in the OpenAI format: ``{"error": {message, type, param, code}}``,
    or exactly ``body`` when given (e.g. FastAPI's ``{"detail": "Not Found"}``)."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None

    @classmethod
    def rate_limit(cls, retry_after: float = 1.0) -> HttpErrorReply:
        """429 with ``retry-after`` (whole seconds) and ``retry-after-ms`` (exact)."""
        return cls(
            429,
            "Rate limit reached for requests. Please try again later.",
            type="requests",
            code="rate_limit_exceeded",
            headers={
                "retry-after": str(max(1, math.ceil(retry_after))),
                "retry-after-ms": str(round(retry_after * 1000)),
            },
        )

    @classmethod
    def unauthorized(cls) -> HttpErrorReply:
        return cls(
            401,
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    @classmethod
    def model_not_found(cls, model: str = "gpt-unknown") -> HttpErrorReply:
        return cls(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
            param="model",
        )

    @classmethod
    def server_error(cls, status: int = 500) -> HttpErrorReply:
        return cls(status, _SERVER_ERROR_MESSAGE, type="server_error")

    @classmethod
    def validation_500(cls) -> HttpErrorReply:
        """How llama.cpp's server answers a request it cannot handle: 500, and the Python
        exception's text, over several lines, as the message."""
        return cls(500, _VALIDATION_MESSAGE, type="internal_server_error")

    @classmethod
    def detail(cls, status: int, detail: str) -> HttpErrorReply:
        """A FastAPI-style error (llama.cpp's and vLLM's servers): ``{"detail": ...}``."""
        return cls(status, detail, body={"detail": detail})

    def error_body(self) -> Any:
        if self.body is not None:
            return self.body
        return _error_body(self.message, self.type, self.code, self.param)


@dataclass(frozen=True)
class StreamErrorReply:
    """Stream ``chunks`` of content, then fail.

    ``mode="error_event"`` sends ``data: {"error": {...}}`` and ends the body (the
    openai client raises ``openai.APIError`` while iterating); ``mode="disconnect"``
    abruptly closes the connection (the client raises ``openai.APIConnectionError``).
    Non-streaming requests get an HTTP 500 error / a cut connection respectively.
    """

    chunks: Sequence[str] = ("partial",)
    mode: Literal["error_event", "disconnect"] = "error_event"
    message: str = _SERVER_ERROR_MESSAGE
    type: str = "server_error"
    code: str | None = None
    delay: float = 0.0
    model: str | None = None


@dataclass(frozen=True)
class MalformedReply:
    """Stream ``before`` chunks, one ``data:`` line carrying ``raw`` (invalid JSON), then
    ``after`` chunks and a normal finish. Non-streaming requests get ``raw`` as the body."""

    before: Sequence[str] = ("partial",)
    raw: str = '{"id": "chatcmpl-broken", "choices": [{"delta": {"content": "x"'
    after: Sequence[str] = ()
    model: str | None = None


@dataclass(frozen=True)
class EmptyReply:
    """``200`` with an empty body: what llama.cpp's server answers to a streamed
    ``tool_choice: "auto"`` request and to a prompt longer than its context."""


Script: TypeAlias = (
    TextReply | ToolCallsReply | HttpErrorReply | StreamErrorReply | MalformedReply | EmptyReply
)


@dataclass(frozen=True)
class RecordedRequest:
    """A request received by the server. ``req["model"]`` is shorthand for ``req.body["model"]``."""

    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names
    body: Any  # parsed JSON; None when empty; the raw text when not valid JSON
    received_at: float

    def __getitem__(self, key: str) -> Any:
        if not isinstance(self.body, Mapping):
            raise KeyError(key)
        return self.body[key]

    @property
    def stream(self) -> bool:
        return isinstance(self.body, Mapping) and bool(self.body.get("stream"))


# --------------------------------------------------------------------------- helpers


def _split_words(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text) or [text]


def _slices(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _error_body(message: str, type_: str, code: str | None, param: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _count_words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, Mapping):
        return sum(_count_words(v) for k, v in value.items() if k in ("content", "text"))
    if isinstance(value, list):
        return sum(_count_words(v) for v in value)
    return 0


def _prompt_tokens(body: Any) -> int:
    if not isinstance(body, Mapping):
        return 0
    return _count_words(body.get("messages", []))


def _completion_tokens(script: Script) -> int:
    if isinstance(script, TextReply):
        return _count_words(script.text)
    if isinstance(script, ToolCallsReply):
        args = sum(len(c.arguments_json.split()) + 1 for c in script.calls)
        return _count_words("".join(script.content)) + args
    return 0


def _fragment(index: int, call_id: str, name: str, arguments: str, *, whole: bool) -> Any:
    """One streamed tool-call fragment: the whole head (id, type, name) or just arguments."""
    if not whole:
        return {"index": index, "function": {"arguments": arguments}}
    function = {"name": name, "arguments": arguments}
    return {"index": index, "id": call_id, "type": "function", "function": function}


def _null_assistant_content(body: Mapping[str, Any]) -> str | None:
    """llama.cpp's complaint about an assistant message whose ``content`` is null or
    missing (OpenAI accepts both; llama.cpp's server answers 500), or None if all are fine."""
    for i, message in enumerate(body.get("messages") or ()):
        assistant = isinstance(message, Mapping) and message.get("role") == "assistant"
        if assistant and message.get("content") is None:
            return _VALIDATION_MESSAGE.replace("content", f"messages.{i}.content", 1)
    return None


class _AbortConnection(Exception):
    """Raised inside the app to make uvicorn drop the TCP connection mid-response."""


class _DropAbortLogs(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _AbortConnection)


_ABORT_FILTER = _DropAbortLogs()


# --------------------------------------------------------------------------- ASGI app


@dataclass
class _Ctx:
    completion_id: str
    seq: int
    created: int
    model: str
    include_usage: bool
    prompt_tokens: int


class _Responder:
    """Writes one HTTP response (JSON or SSE) for the ASGI app."""

    def __init__(self, send: _Send, disconnected: asyncio.Event) -> None:
        self._send = send
        self.disconnected = disconnected

    async def json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        body = (payload if isinstance(payload, str) else _dumps(payload)).encode()
        hdrs = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        hdrs += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        await self._send({"type": "http.response.start", "status": status, "headers": hdrs})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    async def start_stream(self, content_type: bytes = b"text/event-stream") -> None:
        headers = [
            (b"content-type", content_type),
            (b"cache-control", b"no-cache"),
            (b"x-request-id", b"req_fake"),
        ]
        await self._send({"type": "http.response.start", "status": 200, "headers": headers})

    async def raw(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def event(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else _dumps(payload)
        await self.raw(b"data: " + text.encode() + b"\n\n")

    async def end(self, data: bytes = b"") -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": False})

    async def pause(self, delay: float) -> bool:
        """Sleep ``delay`` seconds; True if the client disconnected meanwhile."""
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.disconnected.wait(), delay)
        return self.disconnected.is_set()


class _App:
    def __init__(self, server: FakeOpenAIServer) -> None:
        self._server = server

    async def __call__(self, scope: _ASGIMessage, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            return
        raw = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body", False):
                break
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body: Any = None
        bad_json = False
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
                bad_json = True
        self._server._record(RecordedRequest(method, path, headers, body, time.time()))

        disconnected = asyncio.Event()

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()

        watcher = asyncio.create_task(watch_disconnect())
        out = _Responder(send, disconnected)
        try:
            route = path.rstrip("/")
            if route == "/v1/models" and method == "GET":
                await out.json(200, self._server._models_payload())
            elif route == "/v1/chat/completions" and method == "POST":
                if bad_json or not isinstance(body, Mapping):
                    err = _error_body(
                        "We could not parse the JSON body of your request.",
                        "invalid_request_error",
                        None,
                        None,
                    )
                    await out.json(400, err)
                else:
                    await self._chat(body, out)
            elif route in ("/v1/models", "/v1/chat/completions"):
                await out.json(
                    405, _error_body("Method not allowed", "invalid_request_error", None, None)
                )
            else:
                msg = f"Invalid URL ({method} {path})"
                await out.json(404, _error_body(msg, "invalid_request_error", None, None))
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _chat(self, body: Mapping[str, Any], out: _Responder) -> None:
        script, seq = self._server._next_script()
        stream = bool(body.get("stream"))
        stream_options = body.get("stream_options") or {}
        model = getattr(script, "model", None) or str(body.get("model") or "fake-model")
        ctx = _Ctx(
            completion_id=f"chatcmpl-fake-{seq}",
            seq=seq,
            created=int(time.time()),
            model=model,
            include_usage=stream and bool(stream_options.get("include_usage")),
            prompt_tokens=_prompt_tokens(body),
        )
        if self._server.reject_null_content and (bad := _null_assistant_content(body)):
            await out.json(500, _error_body(bad, "internal_server_error", None, None))
        elif isinstance(script, HttpErrorReply):
            await out.json(script.status, script.error_body(), script.headers)
        elif isinstance(script, EmptyReply):
            await out.start_stream(b"text/event-stream" if stream else b"application/json")
            await out.end()
        elif stream:
            await self._stream(script, ctx, out)
        else:
            await self._complete(script, ctx, out)

    # ----------------------------------------------------------------- non-streaming

    def _usage(self, script: Script, ctx: _Ctx) -> Usage:
        explicit = getattr(script, "usage", None)
        if isinstance(explicit, Usage):
            return explicit
        return Usage(ctx.prompt_tokens, _completion_tokens(script))

    async def _complete(self, script: Script, ctx: _Ctx, out: _Responder) -> None:
        if isinstance(script, StreamErrorReply):
            if script.mode == "error_event":
                err = _error_body(script.message, script.type, script.code, None)
                await out.json(500, err)
                return
            await out.start_stream(b"application/json")
            await out.raw(b'{"id": "' + ctx.completion_id.encode() + b'", "choi')
            raise _AbortConnection
        if isinstance(script, MalformedReply):
            await out.json(200, script.raw)
            return
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if isinstance(script, TextReply):
            message["content"] = script.text
        else:
            assert isinstance(script, ToolCallsReply)
            message["content"] = "".join(script.content) or None
            message["tool_calls"] = [
                {
                    "id": call.id or f"call_{ctx.seq}_{i}",
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for i, call in enumerate(script.calls)
            ]
        payload = {
            "id": ctx.completion_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": script.finish_reason,
                }
            ],
        }
        if script.report_usage:
            payload["usage"] = self._usage(script, ctx).to_dict()
        await out.json(200, payload)

    # ----------------------------------------------------------------- streaming

    def _chunk(self, ctx: _Ctx, delta: dict[str, Any], finish: str | None = None) -> str:
        chunk: dict[str, Any] = {
            "id": ctx.completion_id,
            "object": "chat.completion.chunk",
            "created": ctx.created,
            "model": ctx.model,
            "system_fingerprint": _FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if ctx.include_usage:
            chunk["usage"] = None
        return _dumps(chunk)

    async def _content(
        self, pieces: Sequence[str], delay: float, ctx: _Ctx, out: _Responder
    ) -> bool:
        """Stream content chunks (role on the first). Returns False if the client left."""
        for i, piece in enumerate(pieces):
            if await out.pause(delay):
                self._server._client_left()
                return False
            delta = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            await out.event(self._chunk(ctx, delta))
        return True

    async def _finish(self, script: Script, finish: str | None, ctx: _Ctx, out: _Responder) -> None:
        if finish is not None:
            await out.event(self._chunk(ctx, {}, finish))
        if ctx.include_usage and getattr(script, "report_usage", True):
            usage_chunk = {
                "id": ctx.completion_id,
                "object": "chat.completion.chunk",
                "created": ctx.created,
                "model": ctx.model,
                "system_fingerprint": _FINGERPRINT,
                "choices": [],
                "usage": self._usage(script, ctx).to_dict(),
            }
            await out.event(usage_chunk)
        await out.end(b"data: [DONE]\n\n")

    async def _stream(self, script: Script, ctx: _Ctx, out: _Responder) -> None:
        await out.start_stream()
        if isinstance(script, TextReply):
            pieces = list(script.chunks)
            if not pieces:
                await out.event(self._chunk(ctx, {"role": "assistant", "content": ""}))
            elif not await self._content(pieces, script.delay, ctx, out):
                return
            await self._finish(script, script.finish_reason, ctx, out)
        elif isinstance(script, ToolCallsReply):
            if not await self._content(script.content, script.delay, ctx, out):
                return
            role_sent = bool(script.content)
            for i, call in enumerate(script.calls):
                index = 0 if script.reuse_index else i
                head = (index, call.id or f"call_{ctx.seq}_{i}", call.name)
                delta: dict[str, Any] = {"tool_calls": [_fragment(*head, "", whole=True)]}
                if not role_sent:
                    delta = {"role": "assistant", "content": None, **delta}
                    role_sent = True
                frames = [delta] + [
                    {"tool_calls": [_fragment(*head, piece, whole=script.repeat_head)]}
                    for piece in _slices(call.arguments_json, script.arg_chunk_size)
                ]
                for frame in frames:
                    if await out.pause(script.delay):
                        return
                    await out.event(self._chunk(ctx, frame))
            await self._finish(script, script.finish_reason, ctx, out)
        elif isinstance(script, StreamErrorReply):
            if not await self._content(script.chunks, script.delay, ctx, out):
                return
            if script.mode == "disconnect":
                raise _AbortConnection
            await out.event(_error_body(script.message, script.type, script.code, None))
            await out.end()
        elif isinstance(script, MalformedReply):
            await self._content(script.before, 0.0, ctx, out)
            await out.event(script.raw)
            for piece in script.after:
                await out.event(self._chunk(ctx, {"content": piece}))
            await out.event(self._chunk(ctx, {}, "stop"))
            await out.end(b"data: [DONE]\n\n")


# --------------------------------------------------------------------------- server


class _UvicornServer(uvicorn.Server):
    """uvicorn server that reports startup and polls ``should_exit`` every 10 ms."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[Any] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)


class FakeOpenAIServer:
    """A real OpenAI-compatible server on a loopback port (see module docstring).

    Usable as ``with`` / ``async with`` context manager, or via ``start()``/``stop()``.
    Thread-safe: scripts may be queued and requests inspected from any thread.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default: Script | None = None,
        models: Sequence[str] = ("gpt-4o-mini", "fake-model"),
    ) -> None:
        self.host = host
        self.port = port
        self.default: Script = default if default is not None else TextReply(("ok",))
        self.models: list[str] = list(models)
        # Answer 500 to an assistant message with `content: null`, as llama.cpp's server does.
        self.reject_null_content = False
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._scripts: deque[Script] = deque()
        self._requests: list[RecordedRequest] = []
        self._left = 0  # streams whose client went away before their end
        self._seq = itertools.count(1)
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """E.g. ``"http://127.0.0.1:54321/v1"`` — pass as ``openai.AsyncOpenAI(base_url=...)``."""
        if self._server is None:
            raise RuntimeError("FakeOpenAIServer is not running")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeOpenAIServer:
        if self._server is not None:
            raise RuntimeError("FakeOpenAIServer already started")
        uvicorn_error = logging.getLogger("uvicorn.error")
        if _ABORT_FILTER not in uvicorn_error.filters:
            uvicorn_error.addFilter(_ABORT_FILTER)
        config = uvicorn.Config(
            _App(self),
            host=self.host,
            port=self.port,
            loop="asyncio",
            http="h11",
            ws="none",
            lifespan="off",
            log_config=None,
            log_level=None,
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = _UvicornServer(config)
        thread = threading.Thread(target=server.run, name="fake-openai-server", daemon=True)
        thread.start()
        if not server.ready.wait(10.0) or not server.started:
            server.should_exit = True
            thread.join(5.0)
            raise RuntimeError(f"FakeOpenAIServer failed to start on {self.host}:{self.port}")
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(5.0)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5.0)
        self._server = self._thread = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # ----------------------------------------------------------------- scripting

    def queue(self, *scripts: Script) -> None:
        """Append scripts; each chat-completions request consumes one, FIFO."""
        with self._lock:
            self._scripts.extend(scripts)

    @property
    def pending(self) -> int:
        """Number of queued scripts not yet consumed."""
        with self._lock:
            return len(self._scripts)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of all received requests (any path), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Snapshot of received ``/v1/chat/completions`` requests."""
        return [r for r in self.requests if r.path.rstrip("/") == "/v1/chat/completions"]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block (this thread) until at least ``count`` requests arrived; TimeoutError if not."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"got {len(self._requests)} requests, expected {count}")
            return list(self._requests)

    def wait_for_clients_leaving(self, count: int, timeout: float = 5.0) -> None:
        """Block until ``count`` streamed replies were cut short by their client leaving
        (seen at the next chunk due: give the script a ``delay``); TimeoutError if not."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._left >= count, timeout):
                raise TimeoutError(f"{self._left} clients left, expected {count}")

    def reset(self) -> None:
        """Drop queued scripts and recorded requests; restart completion/call-id numbering."""
        with self._lock:
            self._scripts.clear()
            self._requests.clear()
            self._left = 0
            self._seq = itertools.count(1)
            self.reject_null_content = False

    # ----------------------------------------------------------------- app hooks

    def _client_left(self) -> None:
        with self._changed:
            self._left += 1
            self._changed.notify_all()

    def _record(self, request: RecordedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def _next_script(self) -> tuple[Script, int]:
        with self._lock:
            script = self._scripts.popleft() if self._scripts else self.default
            return script, next(self._seq)

    def _models_payload(self) -> dict[str, Any]:
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
        return {"object": "list", "data": data}


# --------------------------------------------------------------------------- CLI

_VOCAB = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit")


def _words(n: int) -> Iterator[str]:
    for i in range(n):
        word = _VOCAB[i % len(_VOCAB)]
        yield word if i == 0 else " " + word


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python tests/fake_openai.py",
        description="Serve a fake OpenAI endpoint streaming N words per chat request.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--words", type=int, default=2000, help="words (chunks) per reply")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each chunk")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    reply = TextReply(chunks=tuple(_words(args.words)), delay=args.delay)
    with FakeOpenAIServer(host=args.host, port=args.port, default=reply) as server:
        print(f"fake-openai listening on {server.base_url}", flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()
