"""SPEC §9 against the fake OpenAI server taught each real server's behaviour: the exact
protocol cases, fast. tests/llamacpp runs the same behaviours against llama.cpp's own server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_openai import (
    EmptyReply,
    FakeOpenAIServer,
    HttpErrorReply,
    StreamErrorReply,
    TextReply,
    ToolCall,
    ToolCallsReply,
    Usage,
)

from agio_core import Agio, Event, Settings
from agio_core.providers import ModelRequest, TextDelta
from agio_core.providers._server_errors import message_in, one_line, redact
from agio_core.providers.openai import OpenAIProvider

KEY = "sk-quirks-0123456789"
FORCE_CALCULATOR = {"type": "function", "function": {"name": "calculator"}}


def flat(event: Event) -> dict[str, Any]:
    """An event as one flat dict (its fields beside the envelope, as on the wire)."""
    return event.model_dump(mode="json")


def settings_for(home: Path, server: FakeOpenAIServer, key: str = KEY) -> Settings:
    return Settings(home=home, openai_base_url=server.base_url, openai_api_key=key)


@pytest.fixture
async def agio(home: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Agio]:
    fake_openai.reject_null_content = True  # as llama.cpp's server does
    async with Agio(settings_for(home, fake_openai)) as facade:
        await facade.create_agent(
            {
                "id": "local",
                "model": "openai/local-model",
                "model_params": {"max_retries": 2, "timeout": 5},
                "tools": ["calculator"],
            }
        )
        yield facade


async def run(agio: Agio, message: str = "hi") -> list[dict[str, Any]]:
    handle = await agio.start_chat("local", message)
    return [flat(event) async for event in handle.events()]


def of_type(events: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type_]


@pytest.mark.parametrize("reuse_index", [False, True], ids=["indexed", "index-0-reused"])
async def test_repeated_names_and_ids_in_fragments_make_one_call_each(
    agio: Agio, fake_openai: FakeOpenAIServer, reuse_index: bool
) -> None:
    # llama.cpp's server repeats the whole name and id in every fragment.
    fake_openai.queue(
        ToolCallsReply(
            [
                ToolCall("calculator", {"expression": "6*7"}, id="call_a"),
                ToolCall("calculator", {"expression": "2**10"}, id="call_b"),
            ],
            arg_chunk_size=2,
            repeat_head=True,
            reuse_index=reuse_index,
        ),
        TextReply(("42 and 1024",)),
    )
    events = await run(agio)

    started = of_type(events, "tool_call_started")
    assert [(e["tool_call_id"], e["name"], json.loads(e["arguments"])) for e in started] == [
        ("call_a", "calculator", {"expression": "6*7"}),
        ("call_b", "calculator", {"expression": "2**10"}),
    ]
    results = of_type(events, "tool_call_completed")
    assert [(e["result"], e["is_error"]) for e in results] == [("42", False), ("1024", False)]
    assert events[-1]["type"] == "run_completed"


async def test_the_step_after_a_tool_call_sends_content_as_a_string(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(
        ToolCallsReply([ToolCall("calculator", {"expression": "1+1"}, id="c1")]),
        TextReply(("two",)),
    )
    events = await run(agio)

    assert events[-1]["type"] == "run_completed", events[-1]
    assistant = fake_openai.chat_requests[1].body["messages"][2]
    assert assistant["role"] == "assistant" and assistant["content"] == ""
    assert assistant["tool_calls"][0]["id"] == "c1"


async def test_a_stored_null_content_is_sent_as_a_string(
    settings: Settings, fake_openai: FakeOpenAIServer
) -> None:
    # Checkpoints written before agio sent "" hold null; resuming or forking one must work.
    fake_openai.reject_null_content = True
    fake_openai.queue(TextReply(("done",)))
    call = {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
    ]
    provider = OpenAIProvider(settings_for(settings.home, fake_openai))
    try:
        parts = [part async for part in provider.stream(ModelRequest("m", messages))]
    finally:
        await provider.aclose()
    assert [p.content for p in parts if isinstance(p, TextDelta)] == ["done"]
    assert fake_openai.chat_requests[0].body["messages"][1]["content"] == ""
    assert messages[1]["content"] is None  # the caller's messages are left as they were


def test_the_fake_rejects_null_content_as_llama_cpp_does(fake_openai: FakeOpenAIServer) -> None:
    # The guard above is only worth something if the fake really refuses null.
    fake_openai.reject_null_content = True
    body = {"model": "m", "messages": [{"role": "assistant", "content": None}]}
    answer = httpx.post(f"{fake_openai.base_url}/chat/completions", json=body)
    assert answer.status_code == 500 and "validation error" in answer.text


async def test_a_forced_tool_is_not_forced_again_after_its_result(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    await agio.create_agent(
        {
            "id": "local",
            "model": "openai/local-model",
            "model_params": {"tool_choice": FORCE_CALCULATOR, "max_retries": 0},
            "tools": ["calculator"],
        },
        replace=True,
    )
    fake_openai.queue(
        ToolCallsReply([ToolCall("calculator", {"expression": "6*7"}, id="c1")]),
        TextReply(("42",)),
    )
    events = await run(agio)

    assert events[-1]["type"] == "run_completed" and events[-1]["response"] == "42"
    first, second = (r.body for r in fake_openai.chat_requests)
    assert first["tool_choice"] == FORCE_CALCULATOR
    assert "tool_choice" not in second and second["tools"] == first["tools"]


async def test_a_stream_without_finish_reason_fails_and_keeps_the_text(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(TextReply(("Hel", "lo wo"), finish_reason=None))
    events = await run(agio)

    end = events[-1]
    assert end["type"] == "run_failed" and end["error"]["type"] == "incomplete_response"
    assert "finish_reason" in end["error"]["message"]
    record = await agio.get_run(end["run_id"])
    assert record.status == "failed" and record.response == "Hello wo"
    assert not of_type(events, "run_completed")


@pytest.mark.parametrize(
    "reply",
    [EmptyReply(), TextReply((), finish_reason="stop")],
    ids=["empty-200-body", "finish-without-any-text"],
)
async def test_an_empty_answer_fails(agio: Agio, fake_openai: FakeOpenAIServer, reply: Any) -> None:
    fake_openai.queue(reply)
    events = await run(agio)

    end = events[-1]
    assert end["type"] == "run_failed" and end["error"]["type"] == "empty_response", end
    record = await agio.get_run(end["run_id"])
    assert record.status == "failed" and record.response is None
    assert len(fake_openai.chat_requests) == 1


async def test_unreported_usage_is_null_not_zero(agio: Agio, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(
        ToolCallsReply([ToolCall("calculator", {"expression": "1+1"})], usage=Usage(5, 2)),
        TextReply(("two",), report_usage=False),
    )
    events = await run(agio)

    assert [
        (e["prompt_tokens"], e["completion_tokens"], e["total_tokens"])
        for e in of_type(events, "usage")
    ] == [(5, 2, 7), (None, None, None)]
    metrics = events[-1]["metrics"]
    # Half of the run's usage is unknown: its sum is too, not the half that is known.
    assert (metrics["prompt_tokens"], metrics["completion_tokens"], metrics["total_tokens"]) == (
        None,
        None,
        None,
    )
    record = await agio.get_run(events[-1]["run_id"])
    assert record.metrics.total_tokens is None
    checkpoints = (await agio.list_checkpoints(record.id)).items
    assert checkpoints[0].total_tokens == 0 and checkpoints[-1].total_tokens is None


async def test_length_is_recorded_on_the_run(agio: Agio, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(TextReply(("cut", " short"), finish_reason="length"))
    events = await run(agio)

    end = events[-1]
    assert end["type"] == "run_completed" and end["finish_reason"] == "length"
    assert end["response"] == "cut short"
    record = await agio.get_run(end["run_id"])
    assert record.finish_reason == "length"


async def test_stop_is_recorded_too(agio: Agio, fake_openai: FakeOpenAIServer) -> None:
    fake_openai.queue(TextReply(("fine",)))
    events = await run(agio)
    assert events[-1]["finish_reason"] == "stop"


async def test_a_500_validation_error_is_one_line_and_not_retried(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(HttpErrorReply.validation_500(), TextReply(("a retry got through",)))
    events = await run(agio)

    error = events[-1]["error"]
    assert error["type"] == "api_error"
    assert "\n" not in error["message"]
    assert (
        "answered 500: 1 validation error for ChatCompletionRequestAssistantMessage content"
        in (error["message"])
    )
    assert len(fake_openai.chat_requests) == 1


@pytest.mark.parametrize(
    ("reply", "retried"),
    [
        (HttpErrorReply.server_error(502), True),
        (HttpErrorReply.server_error(503), True),
        (HttpErrorReply.server_error(504), True),
        (HttpErrorReply(500, "try me again", headers={"x-should-retry": "true"}), True),
        (HttpErrorReply(400, "bad request"), False),
        (HttpErrorReply(422, "unprocessable"), False),
        (HttpErrorReply(409, "conflict"), False),
    ],
    ids=["502", "503", "504", "500-asking-for-a-retry", "400", "422", "409"],
)
async def test_only_what_may_succeed_is_retried(
    agio: Agio, fake_openai: FakeOpenAIServer, reply: HttpErrorReply, retried: bool
) -> None:
    fake_openai.queue(reply, TextReply(("second try",)))
    events = await run(agio)

    if retried:
        assert events[-1]["type"] == "run_completed" and events[-1]["response"] == "second try"
        assert len(fake_openai.chat_requests) == 2
    else:
        assert events[-1]["type"] == "run_failed"
        assert reply.message in events[-1]["error"]["message"]
        assert len(fake_openai.chat_requests) == 1


async def test_a_404_says_where_and_what_the_server_said(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(HttpErrorReply.detail(404, "Not Found"))
    events = await run(agio)

    error = events[-1]["error"]
    assert error["type"] == "not_found"
    assert error["message"] == (
        f"model or endpoint not found (404) at {fake_openai.base_url}/chat/completions: Not Found"
    )


async def test_fastapi_validation_details_are_listed(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    detail = [
        {"type": "missing", "loc": ["body", "messages", 0, "role"], "msg": "Field required"},
        {"type": "int_parsing", "loc": ["body", "n"], "msg": "Input should be an integer"},
    ]
    fake_openai.queue(HttpErrorReply(422, "unused", body={"detail": detail}))
    events = await run(agio)

    assert events[-1]["error"]["message"] == (
        "the model server answered 422: body.messages.0.role: Field required; "
        "body.n: Input should be an integer"
    )


async def test_a_short_key_is_redacted_as_a_whole_value(
    home: Path, fake_openai: FakeOpenAIServer
) -> None:
    message = "expected a valid key, got x (key x is unknown; x-api-key unused)"
    fake_openai.queue(HttpErrorReply(400, message))
    async with Agio(settings_for(home, fake_openai, key="x")) as agio:
        await agio.create_agent({"id": "local", "model": "openai/m"})
        record = await agio.chat("local", "hi")

    assert record.error is not None
    assert record.error.message == (
        "the model server answered 400: expected a valid key, got [redacted] "
        "(key [redacted] is unknown; x-api-key unused)"
    )


async def test_a_long_key_quoted_by_the_server_is_redacted(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(HttpErrorReply(400, f"key '{KEY}' has no access"))
    events = await run(agio)
    message = events[-1]["error"]["message"]
    assert KEY not in message and "key '[redacted]' has no access" in message
    record = await agio.get_run(events[-1]["run_id"])
    assert record.error is not None and KEY not in record.error.message


async def test_a_multi_line_error_mid_stream_is_one_line(
    agio: Agio, fake_openai: FakeOpenAIServer
) -> None:
    fake_openai.queue(StreamErrorReply(("par", "tial"), message="line one\n  line two\n"))
    events = await run(agio)

    error = events[-1]["error"]
    assert error == {
        "type": "stream_error",
        "message": "the model stream failed: line one line two",
    }


@pytest.mark.parametrize(
    ("text", "secret", "expected"),
    [
        ("expected x, got x.", "x", "expected [redacted], got [redacted]."),
        ("Bearer sk-abc: bad", "sk-abc", "Bearer [redacted]: bad"),
        ("sk-abcdef is not sk-abc", "sk-abc", "sk-abcdef is not [redacted]"),
        ("a+b (a+b)", "a+b", "[redacted] ([redacted])"),  # regex characters in a key
        ("ключ=ключ2 ключи", "ключ", "[redacted]=ключ2 ключи"),  # non-ASCII words are words
        ("nothing to see", "", "nothing to see"),
        ("key\ud800x", "x", "key\ud800[redacted]"),  # a lone surrogate delimits, no crash
    ],
)
def test_redact_replaces_whole_values_only(text: str, secret: str, expected: str) -> None:
    assert redact(text, secret) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "m", "type": "t"}, "m"),
        ({"error": {"message": "inner"}}, "inner"),
        ({"error": "plain"}, "plain"),
        ({"detail": "Not Found"}, "Not Found"),
        ({"detail": [{"loc": ["body", "x"], "msg": "bad"}]}, "body.x: bad"),
        ("  text body  ", "text body"),
        ({"unrelated": 1}, None),
        (None, None),
    ],
)
def test_the_servers_message_is_found(body: Any, expected: str | None) -> None:
    assert message_in(body) == expected


def test_one_line_flattens_and_bounds() -> None:
    assert one_line("a\n  b\r\n\tc ") == "a b c"
    long = one_line("word " * 200)
    assert len(long) <= 300 and long.endswith("…")
