"""The `openai/…` provider against a real OpenAI-compatible server, through the real client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import (
    FakeOpenAIServer,
    HttpErrorReply,
    MalformedReply,
    StreamErrorReply,
    TextReply,
    ToolCall,
    ToolCallsReply,
    Usage,
)

from agio_core import Agio, Event, Settings
from agio_core.events import RunCancelled, RunFailed


@pytest.fixture
async def agio(home: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Agio]:
    fake_openai.reject_null_content = True  # as llama.cpp's server does
    settings = Settings(home=home, openai_base_url=fake_openai.base_url, openai_api_key="sk-test")
    async with Agio(settings) as facade:
        await facade.create_agent(
            {
                "id": "gpt",
                "model": "openai/gpt-4o-mini",
                "model_params": {"temperature": 0.1, "max_retries": 1, "timeout": 5},
                "tools": ["calculator", "current_time"],
            }
        )
        yield facade


async def run_events(agio: Agio, message: str) -> list[Event]:
    handle = await agio.start_chat("gpt", message)
    return [event async for event in handle.events()]


def of_type(events: list[Event], type_: str) -> list[dict[str, Any]]:
    # The event's own fields, as plain data (the envelope left out).
    envelope = {"seq", "type", "run_id", "ts"}
    return [e.model_dump(exclude=envelope) for e in events if e.type == type_]


async def test_streams_text_and_records_usage(agio: Agio, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(TextReply(("Hel", "lo", " there"), usage=Usage(11, 3)))
    events = await run_events(agio, "hi")

    assert [d["content"] for d in of_type(events, "content_delta")] == ["Hel", "lo", " there"]
    assert of_type(events, "usage") == [
        {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14, "step": 1}
    ]
    done = of_type(events, "run_completed")[0]
    assert done["response"] == "Hello there"
    assert done["metrics"]["total_tokens"] == 14
    body = fake_openai.chat_requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.1
    assert "max_retries" not in body  # agio's own parameters stay out of the API call
    assert fake_openai.chat_requests[0].headers["authorization"] == "Bearer sk-test"


@pytest.mark.parametrize("reuse_index", [False, True], ids=["indexed", "index-0-reused"])
async def test_parallel_tool_calls_in_fragments(
    agio: Agio, fake_openai: FakeOpenAIServer, reuse_index: bool
) -> None:
    fake_openai.queue(
        ToolCallsReply(
            [
                ToolCall("calculator", {"expression": "12*7"}, id="call_a"),
                ToolCall("calculator", {"expression": "(3 + 4) ** 2"}, id="call_b"),
            ],
            arg_chunk_size=3,  # arguments split mid-JSON
            reuse_index=reuse_index,
        ),
        TextReply(("84 and 49",)),
    )
    events = await run_events(agio, "two sums")

    started = of_type(events, "tool_call_started")
    assert [(d["tool_call_id"], json.loads(d["arguments"])) for d in started] == [
        ("call_a", {"expression": "12*7"}),
        ("call_b", {"expression": "(3 + 4) ** 2"}),
    ]
    results = of_type(events, "tool_call_completed")
    assert [(d["result"], d["is_error"]) for d in results] == [("84", False), ("49", False)]
    # The second request carries the assistant tool calls and both results, OpenAI-style.
    messages = fake_openai.chat_requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool"]
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["call_a", "call_b"]
    assert of_type(events, "run_completed")[0]["response"] == "84 and 49"


async def test_bad_tool_arguments_become_an_error_result(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(
        ToolCallsReply([ToolCall("calculator", '{"expression": "1+', id="call_x")]),
        ToolCallsReply([ToolCall("calculator", {"formula": "1+1"}, id="call_y")]),
        ToolCallsReply([ToolCall("no_such_tool", {}, id="call_z")]),
        TextReply(("sorry",)),
    )
    events = await run_events(agio, "break it")

    results = of_type(events, "tool_call_completed")
    assert all(r["is_error"] for r in results)
    assert "invalid JSON" in results[0]["result"]
    assert "formula" in results[1]["result"]
    assert "unknown tool" in results[2]["result"]
    assert of_type(events, "run_completed")[0]["response"] == "sorry"


async def test_rate_limit_is_retried_honouring_retry_after(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(HttpErrorReply.rate_limit(0.3), TextReply(("after", " the wait")))
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await run_events(agio, "hi")

    assert of_type(events, "run_completed")[0]["response"] == "after the wait"
    assert len(fake_openai.chat_requests) == 2
    gap = fake_openai.chat_requests[1].received_at - fake_openai.chat_requests[0].received_at
    assert gap >= 0.25
    assert loop.time() - started >= 0.25


@pytest.mark.parametrize(
    ("reply", "error_type", "words"),
    [
        (HttpErrorReply.unauthorized(), "authentication_error", "API key"),
        (HttpErrorReply.model_not_found("gpt-4o-mini"), "not_found", "not found"),
        (StreamErrorReply(("par", "tial")), "stream_error", "stream failed"),
        (StreamErrorReply(("par", "tial"), mode="disconnect"), "connection_error", "closed the"),
        (MalformedReply(before=("par", "tial")), "stream_error", "malformed"),
    ],
    ids=["401", "404", "error-mid-stream", "cut-mid-stream", "malformed-chunk"],
)
async def test_failures_become_run_failed(
    agio: Agio, fake_openai: FakeOpenAIServer, reply: Any, error_type: str, words: str
) -> None:
    # A 5xx-looking failure is retried by the client once; queue it twice so it is final.
    fake_openai.queue(reply, reply)
    events = await run_events(agio, "hi")

    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert failed.error.type == error_type
    assert words in failed.error.message
    run = await agio.get_run(events[0].run_id)
    assert run.status == "failed" and run.error is not None and run.error.type == error_type
    if of_type(events, "content_delta"):
        assert run.response == "partial"  # what the user already saw is kept


async def test_unreachable_server_fails_clearly(home: Path) -> None:
    settings = Settings(home=home, openai_base_url="http://127.0.0.1:9/v1", openai_api_key="k")
    async with Agio(settings) as agio:
        await agio.create_agent(
            {"id": "gpt", "model": "openai/m", "model_params": {"max_retries": 0}}
        )
        run = await agio.chat("gpt", "hi")
    assert run.status == "failed" and run.error is not None
    assert run.error.type == "connection_error"


async def test_missing_key_fails_before_any_request(home: Path) -> None:
    async with Agio(Settings(home=home)) as agio:
        await agio.create_agent({"id": "gpt", "model": "openai/gpt-4o-mini"})
        run = await agio.chat("gpt", "hi")
    assert run.status == "failed" and run.error is not None
    assert "AGIO_OPENAI_API_KEY" in run.error.message


async def test_cancel_aborts_a_slow_stream(agio: Agio, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(TextReply(tuple(f"w{i} " for i in range(200)), delay=0.05))
    handle = await agio.start_chat("gpt", "go slowly")
    seen = []
    async for event in handle.events():
        if event.type == "content_delta":
            seen.append(event.content)
            if len(seen) == 3:
                started = asyncio.get_running_loop().time()
                await handle.cancel("enough")
                assert asyncio.get_running_loop().time() - started < 1.0
    run = await agio.get_run(handle.run_id)
    assert run.status == "cancelled"
    assert run.response is not None and run.response.startswith("w0 w1 w2")
    assert isinstance(event, RunCancelled) and event.reason == "enough"


async def test_a_pause_mid_stream_closes_the_models_stream(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(TextReply(tuple(f"w{i} " for i in range(200)), delay=0.05))
    handle = await agio.start_chat("gpt", "go slowly")
    async for event in handle.events():
        if event.type == "content_delta":
            break
    assert (await handle.pause()).status == "paused"
    # The server sees its client go at its next chunk, not when the stream would have ended.
    await asyncio.to_thread(fake_openai.wait_for_clients_leaving, 1, 2.0)
