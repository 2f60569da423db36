from __future__ import annotations

from collections.abc import AsyncIterator
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
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
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
    kind: Literal["response"] = "response"

    def to_message(self) -> Message:
        message: Message = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [call.to_message_part() for call in self.tool_calls]
        return message


StreamPart = TextDelta | ModelResponse


class Provider(Protocol):
    def stream(self, request: ModelRequest) -> AsyncIterator[StreamPart]:
        """Yield text as it arrives, then one `ModelResponse`; raise `ProviderError`."""
        ...

    async def aclose(self) -> None:
        """Release what the provider keeps between requests (connections)."""
        ...
