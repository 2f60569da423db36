"""Faults of the model server, from a real fake OpenAI-compatible server over loopback.

Each fault is tried through the facade and through a real `agio serve`: the run retries or
fails as documented in `agio_core.providers.openai` (retries with backoff before the first
token, honouring Retry-After; never after text has streamed), every failure is exactly one
`run_failed` with a readable message, and the server stays healthy throughout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_openai import (
    FakeOpenAIServer,
    HttpErrorReply,
    MalformedReply,
    Script,
    StreamErrorReply,
    TextReply,
    ToolCall,
    ToolCallsReply,
)
from httpx_sse import connect_sse
from pydantic import SecretStr

from agio_core import Agio, Event, Settings

from .conftest import ServerFactory
from .support import ServerProcess, no_traceback

TERMINAL = {"run_completed", "run_failed", "run_cancelled"}
GPT: dict[str, Any] = {
    "id": "gpt",
    "model": "openai/gpt-4o-mini",
    "model_params": {"max_retries": 1, "timeout": 5},
    "tools": ["calculator"],
}


@dataclass(frozen=True)
class Fault:
    """Scripts the fake server plays, and how the run must end."""

    scripts: tuple[Script, ...]
    error_type: str | None  # None: the run completes
    words: str  # in the error message (or the response)
    requests: int  # chat requests the provider makes in all
    params: dict[str, Any] = field(default_factory=dict)


SERVER_ERROR = HttpErrorReply.server_error()
RATE_LIMITED = HttpErrorReply.rate_limit(0.2)
FAULTS: dict[str, Fault] = {
    # A 500 is a request the server cannot handle (llama.cpp, vLLM): not retried.
    "500": Fault((SERVER_ERROR,), "api_error", "answered 500", 1),
    "502-then-ok": Fault((HttpErrorReply.server_error(502), TextReply(("fine",))), None, "fine", 2),
    "503-storm": Fault((HttpErrorReply.server_error(503),) * 2, "api_error", "answered 503", 2),
    "429-then-ok": Fault((RATE_LIMITED, TextReply(("waited",))), None, "waited", 2),
    "429-storm": Fault(
        (RATE_LIMITED,) * 3, "rate_limit", "rate limited (429)", 3, {"max_retries": 2}
    ),
    # The server answers at once, then goes silent: the read times out. The response had
    # begun, so the client does not retry it (its retries cover connecting and the status).
    "timeout": Fault(
        (TextReply(("late",), delay=3.0),), "timeout", "timed out", 1, {"timeout": 0.3}
    ),
    "cut-mid-token": Fault(
        (StreamErrorReply(("Hel", "lo wo"), mode="disconnect"),),
        "connection_error",
        "closed the stream early",
        1,
    ),
    "error-event-mid-stream": Fault(
        (StreamErrorReply(("Hel", "lo wo")),), "stream_error", "stream failed", 1
    ),
    "malformed-chunk": Fault(
        (MalformedReply(before=("Hel", "lo wo")),), "stream_error", "malformed", 1
    ),
    "invalid-tool-json": Fault(
        (
            ToolCallsReply([ToolCall("calculator", '{"expression": "1+', id="c1")]),
            ToolCallsReply([ToolCall("calculator", "[1, 2]", id="c2")]),
            ToolCallsReply([ToolCall("calculator", {"expr": "1+1"}, id="c3")]),
            ToolCallsReply([ToolCall("rm_rf", {}, id="c4")]),
            TextReply(("gave up",)),
        ),
        None,
        "gave up",
        5,
    ),
    "401": Fault((HttpErrorReply.unauthorized(),), "authentication_error", "API key", 1),
    "404-model": Fault((HttpErrorReply.model_not_found(),), "not_found", "not found", 1),
}


def agent_for(fault: Fault) -> dict[str, Any]:
    return {**GPT, "model_params": {**GPT["model_params"], **fault.params}}


def check_readable(message: str) -> None:
    assert message and len(message) < 500, message
    assert no_traceback(message) and "object at 0x" not in message, message


def check_outcome(fault: Fault, events: list[dict[str, Any]]) -> None:
    """Exactly one terminal event, last; the failure (or answer) is the documented one."""
    assert events[0]["type"] == "run_started"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    ends = [e for e in events if e["type"] in TERMINAL]
    assert ends == [events[-1]], [e["type"] for e in events]
    end = events[-1]
    if fault.error_type is None:
        assert end["type"] == "run_completed" and end["response"] == fault.words
        results = [e for e in events if e["type"] == "tool_call_completed"]
        assert all(r["is_error"] for r in results)
        for result in results:
            check_readable(result["result"])
        return
    assert end["type"] == "run_failed", end
    error = end["error"]
    assert error["type"] == fault.error_type and fault.words in error["message"], error
    check_readable(error["message"])


@pytest.fixture
async def agio(home: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Agio]:
    settings = Settings(
        home=home, openai_base_url=fake_openai.base_url, openai_api_key=SecretStr("sk-test")
    )
    async with Agio(settings) as facade:
        yield facade


@pytest.mark.parametrize("name", FAULTS)
async def test_fault_through_the_facade(
    agio: Agio, fake_openai: FakeOpenAIServer, name: str
) -> None:
    fault = FAULTS[name]
    await agio.create_agent(agent_for(fault))
    fake_openai.queue(*fault.scripts)
    handle = await agio.start_chat("gpt", "hi")
    events: list[Event] = [e async for e in handle.events()]
    check_outcome(fault, [e.model_dump(mode="json") for e in events])
    assert len(fake_openai.chat_requests) == fault.requests
    assert fake_openai.pending == 0

    run = await agio.get_run(handle.run_id)
    assert run.status == ("completed" if fault.error_type is None else "failed")
    if fault.error_type is not None:
        assert run.error is not None and run.error.type == fault.error_type
    if name in {"cut-mid-token", "error-event-mid-stream", "malformed-chunk"}:
        assert run.response == "Hello wo"  # what the user already saw is kept
    if name.startswith("429"):
        gaps = [
            later.received_at - earlier.received_at
            for earlier, later in zip(
                fake_openai.chat_requests, fake_openai.chat_requests[1:], strict=False
            )
        ]
        assert min(gaps) >= 0.15, gaps  # Retry-After (0.2 s) was honoured


@pytest.fixture
def served(
    start_server: ServerFactory, fake_openai: FakeOpenAIServer
) -> Iterator[tuple[ServerProcess, httpx.Client]]:
    server = start_server(
        AGIO_OPENAI_BASE_URL=fake_openai.base_url,
        AGIO_OPENAI_API_KEY="sk-test",
        AGIO_LOG_LEVEL="INFO",
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield server, client


def chat_events(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with connect_sse(client, "POST", "/api/chat", json=body) as source:
        assert source.response.status_code == 200
        return [json.loads(sse.data) for sse in source.iter_sse()]


def test_server_stays_healthy_through_every_fault(
    served: tuple[ServerProcess, httpx.Client], fake_openai: FakeOpenAIServer
) -> None:
    server, client = served
    for name, fault in FAULTS.items():
        fake_openai.reset()
        agent = agent_for(fault)
        assert client.post("/api/agents?replace=true", json=agent).status_code == 201
        fake_openai.queue(*fault.scripts)
        check_outcome(fault, chat_events(client, {"agent_id": "gpt", "message": name}))
        assert len(fake_openai.chat_requests) == fault.requests, name
        assert client.get("/api/health").json()["status"] == "healthy"
        if fault.requests == 1:  # the same fault, answered as one JSON document
            fake_openai.queue(*fault.scripts)
            body = {"agent_id": "gpt", "message": name, "stream": False}
            answer = client.post("/api/chat", json=body)
            assert answer.status_code == 200, answer.text
            expected = "completed" if fault.error_type is None else "failed"
            assert answer.json()["status"] == expected, (name, answer.json())

    fake_openai.reset()
    fake_openai.queue(TextReply(("still", " fine")))
    answer = client.post("/api/chat", json={"agent_id": "gpt", "message": "ok?", "stream": False})
    assert answer.json()["response"] == "still fine"
    failed = client.get("/api/runs", params={"status": "failed", "limit": 100}).json()
    twice = [f.error_type is not None for f in FAULTS.values() if f.requests == 1]
    assert failed["total"] == sum(f.error_type is not None for f in FAULTS.values()) + sum(twice)
    for run in failed["items"]:
        check_readable(run["error"]["message"])
    assert server.alive()
    assert no_traceback(server.log()), server.log()
