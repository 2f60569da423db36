"""Test doubles shipped with agio_core (e.g. a real loopback fake OpenAI server)."""

from agio_core.testing.fake_openai import (
    FakeOpenAIServer,
    HttpErrorReply,
    MalformedReply,
    RecordedRequest,
    Script,
    StreamErrorReply,
    TextReply,
    ToolCall,
    ToolCallsReply,
    Usage,
)

__all__ = [
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
