"""MCP servers as tool sources, against real servers: the reference `mcp-server-git` and
`mcp-server-time` from PyPI over stdio, and servers written with the SDK (over stdio and
over streamable HTTP on loopback) for the failure cases: crash mid-call, hang, isError,
huge output, a server that cannot start, a tool list that changes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAIServer, TextReply, ToolCall, ToolCallsReply
from helpers.servers import threaded_uvicorn
from pydantic import SecretStr

from agio_core import Agio, Settings

BIN = Path(sys.executable).parent
TEST_SERVER = Path(__file__).with_name("mcp_test_server.py")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose last commit changes one file."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "Tester")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first commit")
    (repo / "greeting.py").write_text("print('bonjour')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "Say bonjour in greeting.py")
    return repo


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by a parent that is gone) is not running.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


async def run_events(agio: Agio, agent_id: str, message: str) -> list[Any]:
    handle = await agio.start_chat(agent_id, message)
    return [event async for event in handle.events()]


def completed(events: list[Any]) -> list[dict[str, Any]]:
    assert events[-1].type == "run_completed", events[-1]
    return [e.model_dump() for e in events if e.type == "tool_call_completed"]


GIT_AGENT = {
    "id": "git-agent",
    "model": "offline/demo",
    "model_params": {"delay_ms": 0},
    "tools": ["git__*"],
}


async def test_offline_model_answers_what_changed_in_the_last_commit(
    agio: Agio, repo: Path
) -> None:
    await agio.create_agent(
        {
            **GIT_AGENT,
            "mcp_servers": {
                "git": {"command": str(BIN / "mcp-server-git"), "args": ["-r", str(repo)]}
            },
        }
    )
    page = await agio.list_tools("git-agent")
    by_name = {t.name: t for t in page.items}
    assert {"git__git_show", "git__git_log", "git__git_commit"} <= set(by_name)
    assert by_name["git__git_show"].source == "mcp:git"
    assert by_name["git__git_show"].policy == "allow"  # the server marks it read-only
    assert by_name["git__git_commit"].policy == "ask"  # it writes
    arguments = json.dumps({"repo_path": str(repo), "revision": "HEAD"})
    events = await run_events(agio, "git-agent", f"call git__git_show {arguments}")
    [result] = completed(events)
    assert not result["is_error"]
    assert "Say bonjour in greeting.py" in result["result"]
    assert "+print('bonjour')" in result["result"]
    answer = events[-1].response
    assert "git__git_show returned" in answer and "greeting.py" in answer


@pytest.fixture
async def gpt_agio(home: Path, fake_openai: FakeOpenAIServer) -> AsyncIterator[Agio]:
    """A facade whose `openai/` models are the fake OpenAI server."""
    settings = Settings(
        home=home, openai_base_url=fake_openai.base_url, openai_api_key=SecretStr("sk-test")
    )
    async with Agio(settings) as agio:
        yield agio


async def test_openai_model_calls_the_git_server(
    gpt_agio: Agio, repo: Path, fake_openai: FakeOpenAIServer
) -> None:
    agio = gpt_agio
    await agio.create_agent(
        {
            "id": "git-gpt",
            "model": "openai/gpt-4o-mini",
            "tools": ["git__git_log", "git__git_show"],
            "mcp_servers": {
                "git": {"command": str(BIN / "mcp-server-git"), "args": ["-r", str(repo)]}
            },
        }
    )
    fake_openai.queue(
        ToolCallsReply(
            [ToolCall("git__git_log", {"repo_path": str(repo), "max_count": 1}, id="c1")]
        ),
        ToolCallsReply(
            [ToolCall("git__git_show", {"repo_path": str(repo), "revision": "HEAD"}, id="c2")]
        ),
        TextReply(("The last commit added greeting.py.",)),
    )
    events = await run_events(agio, "git-gpt", "What changed in the last commit?")
    log, show = completed(events)
    assert "Say bonjour in greeting.py" in log["result"] and not log["is_error"]
    assert "greeting.py" in show["result"]
    first = fake_openai.chat_requests[0].body
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert set(offered) == {"git__git_log", "git__git_show"}
    # the server's own schema, as it is
    assert "repo_path" in offered["git__git_show"]["parameters"]["properties"]
    # the model saw the tool results
    last = fake_openai.chat_requests[-1].body["messages"]
    assert any(m["role"] == "tool" and "greeting.py" in m["content"] for m in last)


async def test_time_server_and_approval_policies(agio: Agio) -> None:
    await agio.create_agent(
        {
            "id": "clock",
            "model": "offline/demo",
            "model_params": {"delay_ms": 0},
            "tools": ["time__*", "shell", "calculator"],
            "approval": {"time__convert_*": "deny", "*": "allow", "shell": "ask"},
            "mcp_servers": {"time": {"command": str(BIN / "mcp-server-time")}},
        }
    )
    policies = {t.name: t.policy for t in (await agio.list_tools("clock")).items}
    assert policies == {
        "time__get_current_time": "allow",
        "time__convert_time": "deny",  # more specific than "*"
        "shell": "ask",  # exact name beats "*"
        "calculator": "allow",
    }
    events = await run_events(
        agio, "clock", 'call time__get_current_time {"timezone": "Asia/Tokyo"}'
    )
    [result] = completed(events)
    assert '"timezone": "Asia/Tokyo"' in result["result"] and not result["is_error"]
    arguments = '{"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}'
    events = await run_events(agio, "clock", f"call time__convert_time {arguments}")
    [denied] = completed(events)
    assert denied["is_error"] and "denied" in denied["result"]
    assert denied["duration_ms"] < 1000


@pytest.fixture
async def test_agio(home: Path) -> AsyncIterator[Agio]:
    """A facade with short MCP timeouts and an agent on the SDK-written test server."""
    settings = Settings(home=home, mcp_call_timeout_s=1.5)
    async with Agio(settings) as agio:
        await agio.create_agent(
            {
                "id": "tester",
                "model": "offline/demo",
                "model_params": {"delay_ms": 0},
                "tools": ["t__*"],
                "mcp_servers": {"t": {"command": sys.executable, "args": [str(TEST_SERVER)]}},
                # These tests are about calling the tools; approvals have their own tests.
                "approval": {"t__*": "allow"},
            }
        )
        yield agio


async def call(agio: Agio, tool: str, arguments: str = "{}", agent: str = "tester") -> Any:
    [result] = completed(await run_events(agio, agent, f"call {tool} {arguments}"))
    return result


async def test_results_errors_and_reuse(test_agio: Agio) -> None:
    agio = test_agio
    first = await call(agio, "t__whoami")
    assert (await call(agio, "t__whoami"))["result"] == first["result"]  # one server, reused
    failed = await call(agio, "t__fail")
    assert failed["is_error"] and "failed on purpose" in failed["result"]
    huge = await call(agio, "t__huge", '{"size": 1000000}')
    assert len(huge["result"]) < 25_000 and "truncated: 1000000 characters" in huge["result"]
    picture = await call(agio, "t__picture")
    assert picture["result"].startswith("a caption\n[image (image/png")
    weather = await call(agio, "t__weather", '{"city": "Lyon"}')
    assert json.loads(weather["result"]) == {"city": "Lyon", "temperature": 21}
    bad = await call(agio, "t__echo", "{not json")
    assert bad["is_error"] and "invalid JSON" in bad["result"]
    wrong = await call(agio, "t__echo", '{"nope": 1}')
    assert wrong["is_error"]


async def test_crash_mid_call_then_restart(
    test_agio: Agio, caplog: pytest.LogCaptureFixture
) -> None:
    agio = test_agio
    pid = int((await call(agio, "t__whoami"))["result"])
    crashed = await call(agio, "t__crash")
    assert crashed["is_error"] and "stopped while asked to run 'crash'" in crashed["result"]
    assert any("stopped while asked" in r.getMessage() for r in caplog.records)  # the user's line
    for _ in range(100):
        if not alive(pid):
            break
        await asyncio.sleep(0.05)
    assert not alive(pid)
    again = int((await call(agio, "t__whoami"))["result"])  # the next run starts it again
    assert again != pid


async def test_hang_times_out_and_the_run_goes_on(test_agio: Agio) -> None:
    started = time.monotonic()
    hung = await call(test_agio, "t__sleep", '{"seconds": 30}')
    assert hung["is_error"] and "did not run 'sleep' within 1.5 s" in hung["result"]
    assert time.monotonic() - started < 10


async def test_list_changed_refreshes_the_tools(test_agio: Agio) -> None:
    names = {t.name for t in (await test_agio.list_tools("tester")).items}
    assert "t__extra" not in names
    assert (await call(test_agio, "t__grow"))["result"] == "grown"
    for _ in range(50):  # the notification arrives on its own
        names = {t.name for t in (await test_agio.list_tools("tester")).items}
        if "t__extra" in names:
            break
        await asyncio.sleep(0.05)
    assert "t__extra" in names
    assert (await call(test_agio, "t__extra"))["result"] == "extra!"


async def test_a_server_that_cannot_start(
    gpt_agio: Agio, fake_openai: FakeOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    agio = gpt_agio
    await agio.create_agent(
        {
            "id": "broken",
            "model": "openai/gpt-4o-mini",
            "tools": ["nope__*", "calculator"],
            "mcp_servers": {"nope": {"command": "/nonexistent/mcp-server"}},
        }
    )
    fake_openai.queue(ToolCallsReply([ToolCall("nope__anything", {}, id="c1")]), TextReply(("ok",)))
    events = await run_events(agio, "broken", "use the nope server")
    tools = (await agio.list_tools("broken")).items
    [result] = completed(events)  # the run goes on
    assert result["is_error"] and "MCP server 'nope' could not start" in result["result"]
    assert [r.getMessage() for r in caplog.records if "'nope'" in r.getMessage()]
    assert [(t.name, t.policy) for t in tools] == [("calculator", "allow"), ("nope__*", None)]
    assert "could not start" in (tools[1].error or "")


# streamable HTTP


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    """The test server over streamable HTTP on loopback; it wants a bearer token."""
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.responses import PlainTextResponse

    sys.path.insert(0, str(TEST_SERVER.parent))
    from mcp_test_server import build

    app = build().streamable_http_app()

    async def need_token(request: Any, call_next: Any) -> Any:
        if request.headers.get("authorization") != "Bearer tok-123":
            return PlainTextResponse("no", status_code=401)
        return await call_next(request)

    app.add_middleware(BaseHTTPMiddleware, dispatch=need_token)
    with threaded_uvicorn(app) as url:
        yield f"{url}/mcp"


async def test_streamable_http_server_with_headers_from_the_environment(
    agio: Agio, http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agio_core.agents import load_agent_yaml

    monkeypatch.setenv("TEST_MCP_TOKEN", "tok-123")
    spec = load_agent_yaml(
        f"""
id: remote
model: offline/demo
model_params: {{delay_ms: 0}}
tools: [web__echo, web__weather, web__fail]
approval: {{"web__*": allow}}
mcp_servers:
  web:
    url: {http_server}
    headers: {{Authorization: "Bearer ${{TEST_MCP_TOKEN}}"}}
"""
    )
    await agio.create_agent(spec)
    assert (await call(agio, "web__echo", '{"text": "über"}', "remote"))["result"] == "über"
    weather = await call(agio, "web__weather", '{"city": "Oslo"}', "remote")
    assert json.loads(weather["result"])["city"] == "Oslo"
    failed = await call(agio, "web__fail", "{}", "remote")
    assert failed["is_error"]

    await agio.create_agent(
        {
            "id": "no-token",
            "model": "offline/demo",
            "tools": ["web__echo"],
            "mcp_servers": {"web": {"url": http_server}},
        }
    )
    [refused] = (await agio.list_tools("no-token")).items
    assert refused.policy is None and "MCP server 'web' could not start" in (refused.error or "")


async def test_a_server_that_never_answers_its_handshake(home: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "mute.pid"
    async with Agio(Settings(home=home, mcp_start_timeout_s=1.0)) as agio:
        await agio.create_agent(
            {
                "id": "mute",
                "model": "offline/demo",
                "tools": ["mute__*"],
                "mcp_servers": {
                    "mute": {
                        "command": "bash",
                        "args": ["-c", f"echo $$ > {pidfile}; exec sleep 600"],
                    }
                },
            }
        )
        [info] = (await agio.list_tools("mute")).items
        assert info.error == "MCP server 'mute' did not start within 1 s"
        pid = int(pidfile.read_text())
        for _ in range(100):  # stopped, not left behind
            if not alive(pid):
                break
            await asyncio.sleep(0.05)
        assert not alive(pid)


async def test_references_are_kept_until_the_server_is_used(
    agio: Agio, http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`${VAR}` in `mcp_servers.*.args|env|headers` is stored as written (flow or block
    style), so an unset variable is no error when the agent is defined, only when a run
    connects, with one line that names it; elsewhere references are substituted as before."""
    from agio_core.agents import load_agent_yaml

    monkeypatch.delenv("LATER_TOKEN", raising=False)
    monkeypatch.setenv("MCP_MODEL", "offline/demo")
    spec = load_agent_yaml(
        f"""
id: later
model: ${{MCP_MODEL}}
tools: [web__echo]
mcp_servers:
  web: {{url: {http_server}, headers: {{Authorization: "Bearer ${{LATER_TOKEN}}"}}}}
  local:
    command: ${{MCP_MODEL}}
    args: [--db, "postgresql://u:${{LATER_TOKEN}}@h/d"]
    env:
      TOKEN: ${{LATER_TOKEN:-none}}
"""
    )
    assert spec.model == "offline/demo"
    assert spec.mcp_servers["web"].headers == {"Authorization": "Bearer ${LATER_TOKEN}"}
    local = spec.mcp_servers["local"]
    assert local.command == "offline/demo"
    assert local.args == ["--db", "postgresql://u:${LATER_TOKEN}@h/d"]
    assert local.env == {"TOKEN": "${LATER_TOKEN:-none}"}
    web_only = {"mcp_servers": {"web": spec.mcp_servers["web"]}}
    await agio.create_agent(spec.model_copy(update=web_only))
    [missing] = (await agio.list_tools("later")).items
    assert missing.error is not None
    assert "headers.Authorization: environment variable ${LATER_TOKEN} is not set" in missing.error
    monkeypatch.setenv("LATER_TOKEN", "tok-123")
    assert (await call(agio, "web__echo", '{"text": "ok"}', "later"))["result"] == "ok"
