from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Message = dict[str, Any]


@dataclass(frozen=True)
class ModelRequest:
    model: str  # the part after "provider/"
    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)  # OpenAI function schemas
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text exactly as the model produced it

    def to_message_part(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass(frozen=True)
class Usage:
    """Token counts as the model server reported them; `None` is a count it did not report
    (llama.cpp's server, for one, streams none), never to be shown as a made-up 0."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TextDelta:
    content: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True)
class ModelResponse:
    content: str
    tool_calls: list[ToolCall]
    usage: Usage
    # Why the model stopped, as the server said: "stop", "length" (max_tokens), "tool_calls",
    # "content_filter", ...
    finish_reason: str | None = None
    kind: Literal["response"] = "response"

    def to_message(self) -> Message:
        # `content` is a string even beside tool calls: llama.cpp's server answers 500 to
        # `null` (and to a missing key), and OpenAI, Ollama and vLLM all accept "".
        message: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_message_part() for call in self.tool_calls]
        return message


StreamPart = TextDelta | ModelResponse


class Provider(Protocol):
    def stream(self, request: ModelRequest) -> AsyncGenerator[StreamPart]:
        """Yield text as it arrives, then one `ModelResponse`; raise `ProviderError`."""
        ...

    async def aclose(self) -> None:
        """Release what the provider keeps between requests (connections)."""
        ...
