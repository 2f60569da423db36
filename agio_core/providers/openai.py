"""`openai/<model>`: any server that speaks OpenAI chat completions (OpenAI, Ollama, vLLM,
llama.cpp server, LM Studio, OpenRouter) through the official `openai` async client.

Real servers differ from OpenAI (SPEC §9), and each difference is handled here:

- tool-call fragments: joined by index; a new `id` at an index in use starts a new call, and a
  name or id repeated in every fragment (llama.cpp) is kept once, not appended;
- assistant messages beside tool calls carry `content: ""`, never `null`;
- no `usage` in the stream (llama.cpp, older vLLM): the counts are `None`, never a made-up 0;
- a body with no chunks, or a stream that ends without any `finish_reason` (llama.cpp cuts a
  stream short when another request arrives): `empty_response` / `incomplete_response`, never
  an answer;
- errors: the server's own message on one line, with the key redacted as a whole value.

Retries with backoff before the first token (honouring `Retry-After`) are the client's own
(`max_retries`), limited to what may succeed when tried again: connection failures, 429 and
502/503/504. A 500 is not retried unless the server asks (`x-should-retry: true`): servers
such as llama.cpp's answer a malformed request with 500. Once text has streamed, a failure is
reported, never silently retried, because the user has already seen part of the answer.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncGenerator, Iterator
from typing import Any

import openai
import pydantic_core

from ..errors import ProviderError
from ..settings import Settings
from ._base import Message, ModelRequest, ModelResponse, StreamPart, TextDelta, ToolCall, Usage
from ._server_errors import message_in, one_line, redact, server_message

# Parameters passed through to the API; anything else in model_params is agio's own.
API_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "stop",
        "response_format",
        "reasoning_effort",
        "parallel_tool_calls",
        "tool_choice",
    }
)
# The HTTP library the SDK uses: openai 3 uses httpx2, earlier versions httpx.
_HTTP_MODULES = [m for m in (sys.modules.get("httpx"), sys.modules.get("httpx2")) if m is not None]
# What it raises when a stream breaks mid-body (the SDK does not wrap reads of a raw
# streaming response).
_TRANSPORT_ERRORS: tuple[type[Exception], ...] = tuple(m.TransportError for m in _HTTP_MODULES)
DEFAULT_MAX_RETRIES = 3
DEFAULT_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 10.0
# Statuses worth another try: the server is overloaded, restarting or behind a busy proxy.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


class _Client(openai.AsyncOpenAI):
    """The SDK's client, retrying only what may succeed on retry.

    The SDK also retries 408, 409 and every 5xx; a 500 from llama.cpp's or vLLM's server is a
    request it cannot handle, and tried again it fails again, three times slower.
    """

    def _should_retry(self, response: Any) -> bool:
        asked = response.headers.get("x-should-retry") == "true"
        if response.status_code not in RETRYABLE_STATUSES and not asked:
            return False
        return bool(super()._should_retry(response))


class _ToolCallAssembler:
    """Joins streamed tool-call fragments into whole calls.

    Fragments are keyed by `index`, but some servers send every call at index 0; a fragment
    that carries a new `id` for an index already in use therefore starts a new call.
    """

    def __init__(self) -> None:
        self._calls: list[dict[str, str]] = []
        self._by_index: dict[int, dict[str, str]] = {}

    def add(self, fragment: dict[str, Any]) -> None:
        index = fragment.get("index") or 0
        fragment_id = fragment.get("id") or ""
        current = self._by_index.get(index)
        if current is None or (fragment_id and current["id"] and fragment_id != current["id"]):
            current = {"id": fragment_id, "name": "", "arguments": ""}
            self._calls.append(current)
            self._by_index[index] = current
        if fragment_id and not current["id"]:
            current["id"] = fragment_id
        function = fragment.get("function") or {}
        # A name comes whole: OpenAI sends it in the first fragment only, llama.cpp's server
        # repeats it in every one (with the id). Only the arguments arrive in pieces.
        if not current["name"]:
            current["name"] = function.get("name") or ""
        current["arguments"] += function.get("arguments") or ""

    def calls(self) -> list[ToolCall]:
        return [
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}")
            for i, c in enumerate(self._calls)
        ]


def _provider_error(exc: Exception) -> ProviderError:
    match exc:
        case openai.AuthenticationError():
            return ProviderError(
                f"the model server rejected the API key (401): {server_message(exc)}; "
                "set AGIO_OPENAI_API_KEY",
                "authentication_error",
            )
        case openai.NotFoundError():
            return ProviderError(
                f"model or endpoint not found (404) at {_where(exc)}: {server_message(exc)}",
                "not_found",
            )
        case openai.RateLimitError():
            return ProviderError(
                f"rate limited (429) after retries: {server_message(exc)}", "rate_limit"
            )
        case openai.APITimeoutError() if _timed_out(exc):
            return ProviderError("the model server timed out", "timeout")
        case openai.APIConnectionError():
            return ProviderError(
                f"cannot reach the model server at {_where(exc)}: "
                f"{one_line(str(exc.__cause__ or exc))}",
                "connection_error",
            )
        case openai.APIStatusError():
            return ProviderError(
                f"the model server answered {exc.status_code}: {server_message(exc)}",
                "api_error",
            )
        case openai.APIError():
            return ProviderError(f"the model stream failed: {server_message(exc)}", "stream_error")
    return ProviderError(
        f"the model stream failed: {type(exc).__name__}: {one_line(str(exc))}", "stream_error"
    )


def _where(exc: Exception) -> str:
    """The URL a failed request went to, without query or credentials."""
    request = getattr(exc, "request", None)
    if request is None:
        return "the configured base URL"
    url = request.url
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


def _timed_out(exc: BaseException) -> bool:
    """Whether a failure comes from a timeout. Asked of the root cause: the SDK's aiohttp
    transport reports a refused or dropped connection as a `ConnectTimeout`."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return isinstance(exc, TimeoutError)


def _forces_a_tool(tool_choice: Any) -> bool:
    return tool_choice == "required" or isinstance(tool_choice, dict)


def _sendable(messages: list[Message]) -> list[Message]:
    """The messages as every server accepts them: an assistant message's `content` is a
    string. Checkpoints written before agio sent "" hold `null` there."""
    if not any(m.get("role") == "assistant" and m.get("content") is None for m in messages):
        return messages
    return [
        {**m, "content": ""} if m.get("role") == "assistant" and m.get("content") is None else m
        for m in messages
    ]


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _SSEPayloads:
    """The JSON objects of a chat-completions SSE body, up to `data: [DONE]`, from its raw
    bytes as they come.

    Split by hand: the SDK's and httpx's line iterators stack three generators and a text
    decoder per line, a third of the cost of relaying a token. Fed one network read at a time
    and iterated synchronously within it: an async generator yielding each chunk cost a
    suspension and a resumption per token on top.
    """

    def __init__(self) -> None:
        self._pending = b""
        self.done = False  # `data: [DONE]` came: nothing after it is read

    def feed(self, data: bytes) -> Iterator[dict[str, Any]]:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
                self.done = True
                return
            chunk = pydantic_core.from_json(payload)  # a third of json.loads' time
            if not isinstance(chunk, dict):
                raise ValueError(f"expected a JSON object, got {payload[:80]!r}")
            yield chunk


class OpenAIProvider:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # One client per configuration, kept for the life of the `Agio` that owns this
        # provider: building one costs an SSL context, and its connections are reused.
        self._clients: dict[tuple[Any, ...], openai.AsyncOpenAI] = {}

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    def _client(self, params: dict[str, Any]) -> openai.AsyncOpenAI:
        key = self.settings.openai_api_key
        base_url = params.get("base_url") or self.settings.openai_base_url
        if key is None and base_url is None:
            raise ProviderError(
                "no API key: set AGIO_OPENAI_API_KEY (or OPENAI_API_KEY), or AGIO_OPENAI_BASE_URL "
                "for a local server such as Ollama",
                "authentication_error",
            )
        api_key = key.get_secret_value() if key else "not-set"
        timeout = float(params.get("timeout", DEFAULT_TIMEOUT_S))
        max_retries = int(params.get("max_retries", DEFAULT_MAX_RETRIES))
        config = (api_key, base_url, timeout, max_retries)
        if config not in self._clients:
            self._clients[config] = _Client(
                api_key=api_key,
                base_url=base_url,
                max_retries=max_retries,
                timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
                # The SDK's aiohttp transport: its HTTP parser is C, where httpx2's (h11) is
                # Python and took ~40% of the time of relaying a streamed token.
                http_client=openai.DefaultAioHttpClient(),
            )
        return self._clients[config]

    def _secret(self) -> str | None:
        key = self.settings.openai_api_key
        return key.get_secret_value() if key else None

    def _redacted(self, error: ProviderError) -> ProviderError:
        # Model servers may quote the key they were sent: keep it out of runs and clients.
        return ProviderError(redact(error.message, self._secret()), error.error_type)

    async def stream(self, request: ModelRequest) -> AsyncGenerator[StreamPart]:
        params = request.params
        extra = {k: v for k, v in params.items() if k in API_PARAMS}
        # The conversation and the tools go as `extra_body`, which the SDK merges into the
        # JSON body as it is: passed as parameters, every part of every message and schema
        # is walked to transform typed fields that chat messages do not have (~0.6 ms of a
        # ~1.7 ms request for a short chat, before the first token, and more as it grows).
        body: dict[str, Any] = {"messages": _sendable(request.messages)}
        if request.tools:
            body["tools"] = request.tools
        answered = bool(request.messages) and request.messages[-1].get("role") == "tool"
        if answered and _forces_a_tool(extra.get("tool_choice")):
            # The model has its tool results: a tool it was forced to call is not forced
            # again, or it would call it for ever (the OpenAI Agents SDK's `reset_tool_choice`).
            del extra["tool_choice"]
        client = self._client(params)  # before the try: a missing key is not an OpenAIError
        content: list[str] = []
        assembler = _ToolCallAssembler()
        usage = Usage()
        finish_reason: str | None = None
        chunks = 0
        # The client sends the request, retries and raises status errors; the chunks are read
        # raw, because building the SDK's typed objects per chunk costs more than all the rest
        # of streaming a token through agio.
        try:
            async with client.chat.completions.with_streaming_response.create(
                model=request.model,
                messages=[],
                extra_body=body,
                stream=True,
                stream_options={"include_usage": True},
                **extra,
            ) as response:
                payloads = _SSEPayloads()
                async for data in response.http_response.aiter_bytes():
                    for chunk in payloads.feed(data):
                        chunks += 1
                        if error := chunk.get("error"):
                            message = one_line(message_in(error) or str(error))
                            raise ProviderError(
                                f"the model stream failed: {message}", "stream_error"
                            )
                        if reported := chunk.get("usage"):
                            usage = Usage(
                                _count(reported.get("prompt_tokens")),
                                _count(reported.get("completion_tokens")),
                            )
                        for choice in chunk.get("choices") or ():
                            delta = choice.get("delta") or {}
                            if text := delta.get("content"):
                                content.append(text)
                                yield TextDelta(text)
                            for fragment in delta.get("tool_calls") or ():
                                assembler.add(fragment)
                            finish_reason = choice.get("finish_reason") or finish_reason
                    if payloads.done:
                        break
        except ProviderError as exc:
            raise self._redacted(exc) from exc
        except openai.OpenAIError as exc:
            raise self._redacted(_provider_error(exc)) from exc
        except (ValueError, AttributeError, TypeError) as exc:  # not JSON, or not chunk-shaped
            raise self._redacted(
                ProviderError(
                    f"the model server sent a malformed chunk: {one_line(str(exc))}",
                    "stream_error",
                )
            ) from exc
        except _TRANSPORT_ERRORS as exc:
            if _timed_out(exc):  # the server went silent mid-stream
                waited = float(params.get("timeout", DEFAULT_TIMEOUT_S))
                raise ProviderError(
                    f"the model server timed out (nothing received for {waited:g} s)", "timeout"
                ) from exc
            raise self._redacted(
                ProviderError(
                    "the model server closed the stream early: "
                    f"{type(exc).__name__}: {one_line(str(exc))}",
                    "connection_error",
                )
            ) from exc
        text, calls = "".join(content), assembler.calls()
        _check_complete(chunks, finish_reason, text, calls)
        yield ModelResponse(text, calls, usage, finish_reason)


def _check_complete(
    chunks: int, finish_reason: str | None, text: str, calls: list[ToolCall]
) -> None:
    """Raise if the stream is not a whole answer: a cut-off or empty answer must never be
    stored as the run's response (SPEC §9). What streamed is kept by the engine."""
    if chunks == 0:
        raise ProviderError(
            "the model server answered with an empty body (no answer and no error); "
            "llama.cpp's server does this when the prompt exceeds its context or for a "
            'streamed tool_choice "auto"',
            "empty_response",
        )
    if finish_reason is None:
        raise ProviderError(
            f"the model server ended the stream without a finish_reason after {len(text)} "
            "characters: the answer is incomplete (llama.cpp's server cuts a stream short "
            "when another request arrives)",
            "incomplete_response",
        )
    if not text and not calls:
        raise ProviderError(
            f"the model answered nothing (finish_reason {finish_reason!r})", "empty_response"
        )
