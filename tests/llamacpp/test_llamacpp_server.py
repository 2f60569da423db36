"""agio against llama.cpp's own OpenAI-compatible server (SPEC §9), over loopback.

The model's output is fixed by construction (conftest.py, tiny_gguf.py), so every answer is
known: a greeting, a forced `calculator` call and the answer after it, or endless ticks.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse
from llama_server import CALCULATOR_ARGUMENTS, GREETING, KEY, LlamaServer, follow, free_port

from agio_core import Agio, Settings

FORCE_CALCULATOR = {"type": "function", "function": {"name": "calculator"}}
AGENTS: list[dict[str, Any]] = [
    # One retry, not three: the wrong-port test waits for them (backoff 0.5 s, then 1 s, ...).
    {"id": "greeter", "model": "openai/greeter", "model_params": {"max_retries": 1}},
    {"id": "short", "model": "openai/greeter", "model_params": {"max_tokens": 2}},
    {
        "id": "caller",
        "model": "openai/greeter",
        "tools": ["calculator"],
        "model_params": {"tool_choice": FORCE_CALCULATOR},
    },
    {
        "id": "auto",
        "model": "openai/greeter",
        "tools": ["calculator"],
        "model_params": {"tool_choice": "auto"},
    },
    {"id": "ticker", "model": "openai/ticker"},
    {"id": "ticker-1000", "model": "openai/ticker", "model_params": {"max_tokens": 1000}},
    # A typo in an agent file: llama.cpp's server answers 500, with a multi-line message.
    {"id": "typo", "model": "openai/greeter", "model_params": {"max_tokens": "x"}},
]


def of_type(events: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == type_]


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["content"] for e in of_type(events, "content_delta"))


async def create_agents(settings: Settings) -> None:
    async with Agio(settings) as agio:
        for agent in AGENTS:
            await agio.create_agent(agent, replace=True)


@pytest.fixture
def settings(home: Path, llama: LlamaServer) -> Settings:
    return Settings(home=home, openai_base_url=llama.base_url, openai_api_key=KEY)


@pytest.fixture
async def agio(settings: Settings) -> AsyncIterator[Agio]:
    await create_agents(settings)
    async with Agio(settings) as facade:
        yield facade


async def events_of(agio: Agio, agent: str, message: str = "hi") -> list[dict[str, Any]]:
    return await follow(await agio.start_chat(agent, message))


def agio_env(home: Path, base_url: str, key: str = KEY) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGIO_", "OPENAI_"))}
    env.update(
        AGIO_HOME=str(home), AGIO_OPENAI_BASE_URL=base_url, AGIO_OPENAI_API_KEY=key, NO_COLOR="1"
    )
    return env


def agio_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agio_cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def cli_env(settings: Settings, llama: LlamaServer) -> dict[str, str]:
    asyncio.run(create_agents(settings))
    return agio_env(settings.home, llama.base_url)


# -- chat, in every output style --------------------------------------------------------------


def test_chat_prints_the_answer(cli_env: dict[str, str]) -> None:
    done = agio_cli(cli_env, "chat", "-a", "greeter", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == GREETING + "\n"
    assert done.stderr == ""


def test_chat_events_are_ndjson(cli_env: dict[str, str]) -> None:
    done = agio_cli(cli_env, "chat", "-a", "greeter", "--events", "hi")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_completed"
    assert text_of(events) == GREETING
    # llama.cpp's server streams no usage (it ignores stream_options): unknown, not 0.
    [usage] = of_type(events, "usage")
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        None,
        None,
        None,
    )
    end = events[-1]
    assert end["response"] == GREETING and end["finish_reason"] == "stop"
    assert end["metrics"]["total_tokens"] is None


def test_chat_json_is_the_run_record(cli_env: dict[str, str]) -> None:
    done = agio_cli(cli_env, "chat", "-a", "greeter", "--json", "hi")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["status"] == "completed" and record["response"] == GREETING
    assert record["finish_reason"] == "stop"
    assert record["metrics"]["prompt_tokens"] is None
    assert record["metrics"]["total_tokens"] is None


def test_an_answer_cut_by_max_tokens_says_so(cli_env: dict[str, str]) -> None:
    done = agio_cli(cli_env, "chat", "-a", "short", "hi")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello from\n"  # the answer alone on stdout: a pipe gets only it
    assert done.stderr == "agio: answer cut: max_tokens reached\n"
    record = json.loads(agio_cli(cli_env, "chat", "-a", "short", "--json", "hi").stdout)
    assert record["finish_reason"] == "length" and record["response"] == "Hello from"


def test_a_terminal_shows_the_cut_and_unknown_tokens(
    settings: Settings, llama: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.test_processes import in_terminal, without_ansi

    asyncio.run(create_agents(settings))
    monkeypatch.setenv("AGIO_OPENAI_BASE_URL", llama.base_url)
    monkeypatch.setenv("AGIO_OPENAI_API_KEY", KEY)
    code, screen = in_terminal(["chat", "-a", "short", "hi"])
    assert code == 0, screen
    text = without_ansi(screen)
    assert "Hello from" in text and "⚠ answer cut: max_tokens reached" in text
    assert re.search(r"run_[0-9a-f]{16} · openai/greeter · tokens unknown · [\d.]+ s", text), text


def test_runs_show_says_tokens_are_unknown(cli_env: dict[str, str]) -> None:
    run_id = json.loads(agio_cli(cli_env, "chat", "-a", "greeter", "--json", "hi").stdout)
    shown = agio_cli(cli_env, "runs", "show", run_id["id"])
    assert shown.returncode == 0, shown.stderr
    assert "tokens unknown" in shown.stdout and "stop" in shown.stdout


# -- a real tool call, and the step after it --------------------------------------------------


async def test_a_forced_tool_call_round_trips(agio: Agio) -> None:
    events = await events_of(agio, "caller", "what is six times seven?")

    [started] = of_type(events, "tool_call_started")
    # The server repeats the call's name and id in every fragment: one call, named once.
    assert started["name"] == "calculator"
    assert started["arguments"] == CALCULATOR_ARGUMENTS
    assert started["tool_call_id"].startswith("call__0_calculator_")
    [completed] = of_type(events, "tool_call_completed")
    assert (completed["result"], completed["is_error"]) == ("42", False)
    end = events[-1]
    assert end["type"] == "run_completed", end
    assert end["response"] == GREETING and end["finish_reason"] == "stop"
    assert end["metrics"]["steps"] == 2 and end["metrics"]["tool_calls"] == 1

    checkpoints = (await agio.list_checkpoints(end["run_id"])).items
    messages = (await agio.get_checkpoint(checkpoints[-1].id)).messages[1:]  # after the system
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["content"] == ""  # what the server accepted on the second request
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "calculator",
        "arguments": CALCULATOR_ARGUMENTS,
    }
    assert messages[2] == {
        "role": "tool",
        "tool_call_id": started["tool_call_id"],
        "content": "42",
    }


@pytest.mark.parametrize(
    ("assistant", "status"),
    [({"content": None}, 500), ({}, 200), ({"content": ""}, 200)],
    ids=["null", "missing", "empty-string"],
)
def test_the_server_accepts_only_a_string_beside_tool_calls(
    llama: LlamaServer, assistant: dict[str, Any], status: int
) -> None:
    # Why agio sends "": null is a 500, a missing key an empty body (below), "" an answer.
    call = {"id": "c1", "type": "function", "function": {"name": "calculator", "arguments": "{}"}}
    body = {
        "model": "greeter",
        "stream": True,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", **assistant, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "2"},
        ],
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    answer = httpx.post(
        f"{llama.base_url}/chat/completions", json=body, headers=headers, timeout=30
    )
    assert answer.status_code == status
    if "content" in assistant and assistant["content"] == "":
        assert GREETING.split()[0] in answer.text and "[DONE]" in answer.text
    elif status == 200:
        assert answer.text == ""


# -- streaming through agio serve -------------------------------------------------------------


def test_streaming_through_agio_serve(
    settings: Settings, llama: LlamaServer, tmp_path: Path
) -> None:
    from helpers.servers import agio_serve

    served = agio_serve(
        tmp_path / "serve",
        "agio-serve",
        AGIO_OPENAI_BASE_URL=llama.base_url,
        AGIO_OPENAI_API_KEY=KEY,
    )
    try:
        with httpx.Client(base_url=served.url, timeout=60) as client:
            for agent in AGENTS[:1] + AGENTS[2:3]:
                client.post("/api/agents?replace=true", json=agent).raise_for_status()
            for agent, expected_tools in (("greeter", 0), ("caller", 1)):
                body = {"agent_id": agent, "message": "hi"}
                with connect_sse(client, "POST", "/api/chat", json=body) as source:
                    events = [json.loads(sse.data) for sse in source.iter_sse()]
                assert text_of(events) == GREETING
                assert len(of_type(events, "tool_call_completed")) == expected_tools
                end = events[-1]
                assert end["type"] == "run_completed" and end["finish_reason"] == "stop"
                assert of_type(events, "usage")[0]["total_tokens"] is None
    finally:
        served.stop()


# -- empty and cut-off answers ----------------------------------------------------------------


async def test_a_prompt_longer_than_the_context_is_an_empty_response(agio: Agio) -> None:
    events = await events_of(agio, "greeter", "hello " * 1000)  # over GREETER_CONTEXT

    end = events[-1]
    assert end["type"] == "run_failed", end
    assert end["error"]["type"] == "empty_response"
    assert "empty body" in end["error"]["message"]
    record = await agio.get_run(end["run_id"])
    assert record.status == "failed" and record.response is None


def test_the_cli_fails_an_empty_response(cli_env: dict[str, str]) -> None:
    line = run_failure(agio_cli(cli_env, "chat", "-a", "greeter", "hello " * 1000))
    assert "failed: empty_response: the model server answered with an empty body" in line


async def test_a_streamed_auto_tool_choice_is_an_empty_response(agio: Agio) -> None:
    # llama-cpp-python: "Automatic streaming tool choice is not supported", after the 200.
    events = await events_of(agio, "auto")

    end = events[-1]
    assert end["type"] == "run_failed" and end["error"]["type"] == "empty_response", end


async def test_a_stream_cut_by_another_request_is_incomplete(
    agio: Agio, llama: LlamaServer
) -> None:
    others: list[asyncio.Task[httpx.Response]] = []
    async with httpx.AsyncClient(timeout=60) as client:

        async def another_request() -> None:
            # Another request makes the server end this stream: [DONE], no finish_reason.
            body = {"model": "greeter", "messages": [{"role": "user", "content": "hi"}]}
            headers = {"Authorization": f"Bearer {KEY}"}
            url = f"{llama.base_url}/chat/completions"
            others.append(asyncio.create_task(client.post(url, json=body, headers=headers)))

        handle = await agio.start_chat("ticker", "tick for ever")
        events = await follow(handle, at_delta=1, then=another_request)
        [other] = others
        assert (await other).json()["choices"][0]["message"]["content"] == GREETING

    end = events[-1]
    assert end["type"] == "run_failed", end
    assert end["error"]["type"] == "incomplete_response"
    streamed = text_of(events)
    assert streamed.startswith(" tick")
    record = await agio.get_run(end["run_id"])
    assert record.status == "failed" and record.response == streamed  # what was seen is kept


# -- run control mid-stream -------------------------------------------------------------------


async def test_pause_mid_stream_then_resume(agio: Agio) -> None:
    handle = await agio.start_chat("ticker-1000", "tick")
    await follow(handle, at_delta=1, then=lambda: agio.pause_run(handle.run_id, wait=0))
    paused = await handle.wait()
    assert paused.status == "paused", paused

    events = await follow(await agio.resume_run(handle.run_id))
    end = events[-1]
    assert end["type"] == "run_completed", end
    assert end["response"].startswith(" tick") and end["finish_reason"] == "length"
    record = await agio.get_run(handle.run_id)
    assert record.status == "completed" and record.finish_reason == "length"


async def test_cancel_mid_stream(agio: Agio, llama: LlamaServer) -> None:
    handle = await agio.start_chat("ticker", "tick")
    await follow(handle, at_delta=3, then=lambda: handle.cancel("enough ticks"))
    record = await agio.get_run(handle.run_id)
    assert record.status == "cancelled"
    assert record.response is not None and record.response.startswith(" tick tick tick")
    # The server let go of the cancelled stream and answers the next request in full.
    events = await events_of(agio, "greeter")
    assert events[-1]["type"] == "run_completed" and events[-1]["response"] == GREETING


# -- errors -----------------------------------------------------------------------------------


def run_failure(done: subprocess.CompletedProcess[str]) -> str:
    """The CLI's one error line for a failed run (exit 1)."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_wrong_key(settings: Settings, llama: LlamaServer) -> None:
    asyncio.run(create_agents(settings))
    env = agio_env(settings.home, llama.base_url, key="not-the-key")
    line = run_failure(agio_cli(env, "chat", "-a", "greeter", "hi"))
    assert "authentication_error: the model server rejected the API key (401): " in line
    assert "Invalid API key" in line and "not-the-key" not in line


def test_a_wrong_port(settings: Settings) -> None:
    asyncio.run(create_agents(settings))
    url = f"http://127.0.0.1:{free_port()}/v1"
    line = run_failure(agio_cli(agio_env(settings.home, url), "chat", "-a", "greeter", "hi"))
    assert f"connection_error: cannot reach the model server at {url}/chat/completions" in line


def test_a_wrong_path(settings: Settings, llama: LlamaServer) -> None:
    asyncio.run(create_agents(settings))
    env = agio_env(settings.home, llama.url)  # without /v1
    line = run_failure(agio_cli(env, "chat", "-a", "greeter", "hi"))
    assert line.endswith(
        f"not_found: model or endpoint not found (404) at {llama.url}/chat/completions: Not Found"
    )


async def test_a_500_is_one_line_not_retried_and_redacted_as_whole_values(
    agio: Agio, llama: LlamaServer
) -> None:
    before = llama.chat_answers(500)
    events = await events_of(agio, "typo")

    error = events[-1]["error"]
    assert error["type"] == "api_error"
    message = error["message"]
    assert message.startswith("the model server answered 500: ")
    assert "\n" not in message and len(message) <= 400
    # The key is "x": the value 'x' the server quotes back is redacted, "max_tokens" is not.
    assert "max_tokens" in message and "'input': '[redacted]'" in message
    assert llama.chat_answers(500) == before + 1  # not retried
