"""The fake OpenAI server is faithful: drive it with the real ``openai.AsyncOpenAI`` client."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import pytest_asyncio
from fake_openai import (
    EmptyReply,
    FakeOpenAIServer,
    HttpErrorReply,
    MalformedReply,
    StreamErrorReply,
    TextReply,
    ToolCall,
    ToolCallsReply,
    Usage,
)

HERE = Path(__file__).resolve().parent

MESSAGES: list[Any] = [{"role": "user", "content": "say hello to the world"}]


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as srv:
        yield srv


@pytest.fixture
def server(_shared_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """One server per module (start/stop is tested separately); state reset per test."""
    _shared_server.reset()
    _shared_server.default = TextReply(("ok",))
    yield _shared_server


@pytest_asyncio.fixture
async def client(server: FakeOpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


async def _stream(client: openai.AsyncOpenAI, **kwargs: Any) -> list[Any]:
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, **kwargs
    )
    return [chunk async for chunk in stream]


# --------------------------------------------------------------------------- lifecycle


def test_start_stop_fast_and_clean() -> None:
    before = set(threading.enumerate())
    t0 = time.perf_counter()
    with FakeOpenAIServer() as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        assert srv.base_url.endswith("/v1")
        assert srv.port > 0
        assert srv.running
    assert time.perf_counter() - t0 < 0.5
    assert not srv.running
    assert set(threading.enumerate()) - before == set()


async def test_async_context_manager() -> None:
    async with (
        FakeOpenAIServer() as srv,
        openai.AsyncOpenAI(base_url=srv.base_url, api_key="k") as c,
    ):
        models = await c.models.list()
    assert [m.id for m in models.data] == ["gpt-4o-mini", "fake-model"]


# --------------------------------------------------------------------------- text


async def test_streamed_text_chunks_in_order(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(TextReply(["Hel", "lo", ", ", "world"]))
    chunks = await _stream(client)

    assert [c.object for c in chunks] == ["chat.completion.chunk"] * 5
    assert [c.choices[0].delta.content for c in chunks[:4]] == ["Hel", "lo", ", ", "world"]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:])
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model == "gpt-4o-mini"
    assert len({c.id for c in chunks}) == 1

    (req,) = server.requests
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.body["messages"] == MESSAGES
    assert req["stream"] is True and req.stream
    assert req.headers["authorization"] == "Bearer test"
    assert server.pending == 0


async def test_usage_chunk_with_stream_options(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(TextReply(["a", " b"], usage=Usage(prompt_tokens=11, completion_tokens=7)))
    server.queue(TextReply(["one", " two", " three"]))
    chunks = await _stream(client, stream_options={"include_usage": True})

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (11, 7)
    assert last.usage.total_tokens == 18
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"

    # default usage is deterministic word counts
    chunks = await _stream(client, stream_options={"include_usage": True})
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump(include={"prompt_tokens", "completion_tokens"}) == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
    }

    # without stream_options: no usage chunk
    chunks = await _stream(client)
    assert all(c.choices for c in chunks)


async def test_non_streaming_text_and_default_reply(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(TextReply.from_text("hello there  friend"))
    resp = await client.chat.completions.create(model="m1", messages=MESSAGES)
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.content == "hello there  friend"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "m1"
    assert resp.usage is not None and resp.usage.completion_tokens == 3

    # empty queue -> short default reply, not a hang
    resp = await client.chat.completions.create(model="m1", messages=MESSAGES)
    assert resp.choices[0].message.content == "ok"
    server.default = TextReply(["fallback"])
    chunks = await _stream(client)
    assert chunks[0].choices[0].delta.content == "fallback"
    assert len(server.chat_requests) == 3


# --------------------------------------------------------------------------- tool calls


def _assemble(chunks: list[Any]) -> dict[int, dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for tc in (chunk.choices[0].delta.tool_calls if chunk.choices else None) or []:
            slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
            if tc.id:
                slot["id"] = tc.id
            if tc.function and tc.function.name:
                slot["name"] += tc.function.name
            if tc.function and tc.function.arguments:
                slot["arguments"] += tc.function.arguments
    return calls


async def test_parallel_tool_call_fragments(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    args0 = {"city": "Paris", "unit": "celsius"}
    server.queue(
        ToolCallsReply(
            [
                ToolCall("get_weather", args0, id="call_a"),
                ToolCall("read_file", '{"path": "x.py"}'),
            ],
            content=["Let me ", "check."],
            arg_chunk_size=5,
        )
    )
    chunks = await _stream(client, stream_options={"include_usage": True})
    deltas = [c.choices[0].delta for c in chunks if c.choices]

    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == "Let me check."

    fragments = [tc for d in deltas for tc in (d.tool_calls or [])]
    heads = [f for f in fragments if f.id is not None]
    assert [(h.index, h.id, h.type, h.function.name) for h in heads] == [
        (0, "call_a", "function", "get_weather"),
        (1, "call_1_1", "function", "read_file"),
    ]
    assert all(h.function.arguments == "" for h in heads)
    tails = [f for f in fragments if f.id is None]
    assert tails and all(f.type is None and f.function.name is None for f in tails)
    assert all(len(f.function.arguments) <= 5 for f in tails)
    # split mid-JSON: individual fragments are not valid JSON
    with pytest.raises(json.JSONDecodeError):
        json.loads(tails[0].function.arguments)

    calls = _assemble(chunks)
    assert json.loads(calls[0]["arguments"]) == args0
    assert json.loads(calls[1]["arguments"]) == {"path": "x.py"}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None


async def test_tool_calls_reusing_index_zero(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(
        ToolCallsReply([ToolCall("a", {"n": 1}), ToolCall("b", {"n": 2})], reuse_index=True)
    )
    chunks = await _stream(client)
    fragments = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert {f.index for f in fragments} == {0}
    assert chunks[0].choices[0].delta.role == "assistant"

    # assemble by "new id starts a new call"
    calls: list[dict[str, str]] = []
    for f in fragments:
        if f.id:
            calls.append({"id": f.id, "name": f.function.name, "arguments": ""})
        calls[-1]["arguments"] += f.function.arguments or ""
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("a", {"n": 1}),
        ("b", {"n": 2}),
    ]
    assert len({c["id"] for c in calls}) == 2


async def test_non_streaming_tool_calls(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(ToolCallsReply([ToolCall("ls", {"path": "."}, id="call_x")]))
    resp = await client.chat.completions.create(model="m", messages=MESSAGES)
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (tc,) = choice.message.tool_calls or []
    assert tc.id == "call_x" and tc.type == "function"
    assert tc.function.name == "ls" and json.loads(tc.function.arguments) == {"path": "."}


# --------------------------------------------------------------------------- HTTP errors


async def test_http_errors_map_to_openai_exceptions(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(
        HttpErrorReply.unauthorized(),
        HttpErrorReply.model_not_found("gpt-nope"),
        HttpErrorReply.server_error(),
    )
    with pytest.raises(openai.AuthenticationError) as auth:
        await _stream(client)
    assert auth.value.status_code == 401
    assert auth.value.code == "invalid_api_key"
    assert auth.value.type == "invalid_request_error"

    with pytest.raises(openai.NotFoundError) as nf:
        await client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert nf.value.code == "model_not_found"
    assert "gpt-nope" in nf.value.message

    with pytest.raises(openai.InternalServerError):
        await _stream(client)


async def test_rate_limit_retry_after_is_honoured(server: FakeOpenAIServer) -> None:
    server.queue(HttpErrorReply.rate_limit(retry_after=0.2), TextReply(["after", " retry"]))
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=1) as c:
        t0 = time.perf_counter()
        chunks = await _stream(c)
        elapsed = time.perf_counter() - t0

    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == "after retry"
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.19
    assert 0.19 <= elapsed < 1.0  # retry-after-ms (200) wins over retry-after (1)
    assert second.headers["x-stainless-retry-count"] == "1"


async def test_rate_limit_exhausts_retries(server: FakeOpenAIServer) -> None:
    server.queue(HttpErrorReply.rate_limit(0.05), HttpErrorReply.rate_limit(0.05))
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=1) as c:
        with pytest.raises(openai.RateLimitError) as err:
            await c.chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.response.headers["retry-after"] == "1"
    assert len(server.requests) == 2


# --------------------------------------------------------------------------- stream failures


async def test_mid_stream_error_event_raises_api_error(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(StreamErrorReply(["par", "tial"], message="boom", code="overloaded"))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIError) as err:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert received == ["par", "tial"]
    assert err.value.message == "boom"
    assert isinstance(err.value.body, dict) and err.value.body["code"] == "overloaded"


async def test_mid_stream_disconnect_raises_connection_error(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(StreamErrorReply(["par", "tial"], mode="disconnect"))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert received == ["par", "tial"]
    # the server keeps serving after a cut connection
    resp = await client.chat.completions.create(model="m", messages=MESSAGES)
    assert resp.choices[0].message.content == "ok"


async def test_malformed_chunk(server: FakeOpenAIServer, client: openai.AsyncOpenAI) -> None:
    server.queue(MalformedReply(before=["fine"]))
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert received == ["fine"]


async def test_slow_stream_can_be_cancelled(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(TextReply(["x"] * 200, delay=0.02))
    t0 = time.perf_counter()
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    got = 0
    async for _ in stream:
        got += 1
        if got == 3:
            break
    await stream.close()
    assert got == 3
    assert time.perf_counter() - t0 < 1.0


# --------------------------------------------------------------------------- llama.cpp's ways


async def test_repeated_fragment_heads(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(ToolCallsReply([ToolCall("calc", {"x": 1}, id="c1")], repeat_head=True))
    chunks = await _stream(client)
    fragments = [f for ch in chunks if ch.choices for f in ch.choices[0].delta.tool_calls or ()]
    assert len(fragments) > 2
    assert all(f.id == "c1" and f.function.name == "calc" for f in fragments)
    assert "".join(f.function.arguments for f in fragments) == '{"x": 1}'


async def test_no_finish_reason_and_no_usage(
    server: FakeOpenAIServer, client: openai.AsyncOpenAI
) -> None:
    server.queue(TextReply(("a", "b"), finish_reason=None, report_usage=False))
    chunks = await _stream(client, stream_options={"include_usage": True})
    assert [c.choices[0].finish_reason for c in chunks] == [None, None]
    assert all(c.usage is None for c in chunks)


@pytest.mark.parametrize("stream", [True, False])
def test_empty_reply_is_an_empty_200(server: FakeOpenAIServer, stream: bool) -> None:
    server.queue(EmptyReply())
    body = {"model": "m", "messages": MESSAGES, "stream": stream}
    answer = httpx.post(f"{server.base_url}/chat/completions", json=body)
    assert answer.status_code == 200 and answer.content == b""


def test_detail_and_validation_errors(server: FakeOpenAIServer) -> None:
    server.queue(HttpErrorReply.detail(404, "Not Found"), HttpErrorReply.validation_500())
    body = {"model": "m", "messages": MESSAGES}
    first = httpx.post(f"{server.base_url}/chat/completions", json=body)
    assert (first.status_code, first.json()) == (404, {"detail": "Not Found"})
    second = httpx.post(f"{server.base_url}/chat/completions", json=body)
    assert second.status_code == 500 and "\n" in second.json()["error"]["message"]


def test_null_content_is_refused_only_when_asked(server: FakeOpenAIServer) -> None:
    body = {"model": "m", "messages": [*MESSAGES, {"role": "assistant", "content": None}]}
    assert httpx.post(f"{server.base_url}/chat/completions", json=body).status_code == 200
    server.reject_null_content = True
    refused = httpx.post(f"{server.base_url}/chat/completions", json=body)
    assert refused.status_code == 500 and "messages.1.content" in refused.text
    server.reset()
    assert server.reject_null_content is False


# --------------------------------------------------------------------------- CLI


def test_cli_serves_word_stream() -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_openai.py"), "--port", "0", "--words", "50"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.rsplit(" ", 1)[-1].strip()
        assert base_url.startswith("http://127.0.0.1:")
        with openai.OpenAI(base_url=base_url, api_key="k", max_retries=0) as c:
            stream = c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            text = "".join(ch.choices[0].delta.content or "" for ch in stream)
        assert len(text.split()) == 50
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
