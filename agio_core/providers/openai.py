"""`openai/<model>`: any server that speaks OpenAI chat completions (OpenAI, Ollama, vLLM,
llama.cpp server, LM Studio, OpenRouter) through the official `openai` async client.

Retries with backoff before the first token (honouring `Retry-After` on 429) are the client's
own (`max_retries`); once text has streamed, a failure is reported, never silently retried,
because the user has already seen part of the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai

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

    def add(self, fragment: Any) -> None:
        index = fragment.index if fragment.index is not None else 0
        current = self._by_index.get(index)
        if current is None or (fragment.id and current["id"] and fragment.id != current["id"]):
            current = {"id": fragment.id or "", "name": "", "arguments": ""}
            self._calls.append(current)
            self._by_index[index] = current
        if fragment.id and not current["id"]:
            current["id"] = fragment.id
        function = fragment.function
        if function is not None:
            if function.name:
                current["name"] += function.name
            if function.arguments:
                current["arguments"] += function.arguments

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
        case openai.APITimeoutError():
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


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(getattr(exc, "message", exc))


class OpenAIProvider:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _client(self, params: dict[str, Any]) -> openai.AsyncOpenAI:
        key = self.settings.openai_api_key
        base_url = params.get("base_url") or self.settings.openai_base_url
        if key is None and base_url is None:
            raise ProviderError(
                "no API key: set AGIO_OPENAI_API_KEY (or OPENAI_API_KEY), or AGIO_OPENAI_BASE_URL "
                "for a local server such as Ollama",
                "authentication_error",
            )
        timeout = float(params.get("timeout", DEFAULT_TIMEOUT_S))
        return openai.AsyncOpenAI(
            api_key=key.get_secret_value() if key else "not-set",
            base_url=base_url,
            max_retries=int(params.get("max_retries", DEFAULT_MAX_RETRIES)),
            timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT_S),
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamPart]:
        params = request.params
        extra = {k: v for k, v in params.items() if k in API_PARAMS}
        if request.tools:
            extra["tools"] = request.tools
        client = self._client(params)  # before the try: a missing key is not an OpenAIError
        content: list[str] = []
        assembler = _ToolCallAssembler()
        usage = Usage()
        try:
            stream = await client.chat.completions.create(  # type: ignore[call-overload]
                model=request.model,
                messages=request.messages,
                stream=True,
                stream_options={"include_usage": True},
                **extra,
            )
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        content.append(delta.content)
                        yield TextDelta(delta.content)
                    for fragment in delta.tool_calls or []:
                        assembler.add(fragment)
        except openai.OpenAIError as exc:
            raise _provider_error(exc) from exc
        except ValueError as exc:  # a chunk that is not JSON
            raise ProviderError(
                f"the model server sent a malformed chunk: {exc}", "stream_error"
            ) from exc
        finally:
            await client.close()
        yield ModelResponse(content="".join(content), tool_calls=assembler.calls(), usage=usage)
