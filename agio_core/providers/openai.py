"""`openai/<model>`: any server that speaks OpenAI chat completions (OpenAI, Ollama, vLLM,
llama.cpp server, LM Studio, OpenRouter) through the official `openai` async client.

Retries with backoff before the first token (honouring `Retry-After` on 429) are the client's
own (`max_retries`); once text has streamed, a failure is reported, never silently retried,
because the user has already seen part of the answer.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import openai
import pydantic_core

from ..errors import ProviderError
from ..settings import Settings
from ._base import ModelRequest, ModelResponse, StreamPart, TextDelta, ToolCall, Usage

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
        current["name"] += function.get("name") or ""
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
                "the model server rejected the API key (401): set AGIO_OPENAI_API_KEY",
                "authentication_error",
            )
        case openai.NotFoundError():
            return ProviderError(f"model or endpoint not found (404): {_message(exc)}", "not_found")
        case openai.RateLimitError():
            return ProviderError(f"rate limited (429) after retries: {_message(exc)}", "rate_limit")
        case openai.APITimeoutError() if _timed_out(exc):
            return ProviderError("the model server timed out", "timeout")
        case openai.APIConnectionError():
            return ProviderError(
                f"cannot reach the model server: {exc.__cause__ or exc}", "connection_error"
            )
        case openai.APIStatusError():
            return ProviderError(
                f"the model server answered {exc.status_code}: {_message(exc)}", "api_error"
            )
        case openai.APIError():
            return ProviderError(f"the model stream failed: {_message(exc)}", "stream_error")
    return ProviderError(f"the model stream failed: {type(exc).__name__}: {exc}", "stream_error")


def _timed_out(exc: BaseException) -> bool:
    """Whether a failure comes from a timeout. Asked of the root cause: the SDK's aiohttp
    transport reports a refused or dropped connection as a `ConnectTimeout`."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return isinstance(exc, TimeoutError)


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", exc))


async def _sse_payloads(body: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of a chat-completions SSE body, up to `data: [DONE]`.

    Split by hand from the raw bytes: the SDK's and httpx's line iterators stack three
    generators and a text decoder per line, a third of the cost of relaying a token.
    """
    pending = b""
    async for data in body:
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            payload = line[5:].strip()
            if payload == b"[DONE]":
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
            self._clients[config] = openai.AsyncOpenAI(
                api_key=api_key,
                base_url=base_url,
                max_retries=max_retries,
                timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
                # The SDK's aiohttp transport: its HTTP parser is C, where httpx2's (h11) is
                # Python and took ~40% of the time of relaying a streamed token.
                http_client=openai.DefaultAioHttpClient(),
            )
        return self._clients[config]

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamPart]:
        params = request.params
        extra = {k: v for k, v in params.items() if k in API_PARAMS}
        if request.tools:
            extra["tools"] = request.tools
        client = self._client(params)  # before the try: a missing key is not an OpenAIError
        content: list[str] = []
        assembler = _ToolCallAssembler()
        usage = Usage()
        # The client sends the request, retries and raises status errors; the chunks are read
        # raw, because building the SDK's typed objects per chunk costs more than all the rest
        # of streaming a token through agio.
        try:
            async with client.chat.completions.with_streaming_response.create(  # type: ignore[call-overload]
                model=request.model,
                messages=request.messages,
                stream=True,
                stream_options={"include_usage": True},
                **extra,
            ) as response:
                async for chunk in _sse_payloads(response.http_response.aiter_bytes()):
                    if error := chunk.get("error"):
                        message = error.get("message") if isinstance(error, dict) else error
                        raise ProviderError(f"the model stream failed: {message}", "stream_error")
                    if reported := chunk.get("usage"):
                        usage = Usage(
                            reported.get("prompt_tokens") or 0,
                            reported.get("completion_tokens") or 0,
                        )
                    for choice in chunk.get("choices") or ():
                        delta = choice.get("delta") or {}
                        if text := delta.get("content"):
                            content.append(text)
                            yield TextDelta(text)
                        for fragment in delta.get("tool_calls") or ():
                            assembler.add(fragment)
        except openai.OpenAIError as exc:
            raise _provider_error(exc) from exc
        except (ValueError, AttributeError, TypeError) as exc:  # not JSON, or not chunk-shaped
            raise ProviderError(
                f"the model server sent a malformed chunk: {exc}", "stream_error"
            ) from exc
        except _TRANSPORT_ERRORS as exc:
            if _timed_out(exc):  # the server went silent mid-stream
                waited = float(params.get("timeout", DEFAULT_TIMEOUT_S))
                raise ProviderError(
                    f"the model server timed out (nothing received for {waited:g} s)", "timeout"
                ) from exc
            raise ProviderError(
                f"the model server closed the stream early: {type(exc).__name__}: {exc}",
                "connection_error",
            ) from exc
        yield ModelResponse(content="".join(content), tool_calls=assembler.calls(), usage=usage)
