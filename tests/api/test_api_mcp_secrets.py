"""MCP servers' secrets never leave `agio serve` through the API (SPEC §8, §5).

An agent defined on the host names its MCP credentials as `${VAR}`: the stored agent keeps
the reference as written, and the value is read from the server's environment only when it
connects to the MCP server. Real parts: `agio serve` in a subprocess whose environment holds
the secret, the SDK-written test server over stdio (reporting the environment it got) and
over streamable HTTP (reporting the header it got), the `agio` CLI in subprocesses.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import stream_events
from helpers.servers import Server, agio_serve, clean_env, threaded_uvicorn

TEST_SERVER = Path(__file__).parents[1] / "tools" / "mcp_test_server.py"
SECRET = "s3cr3t-from-the-server-env"
LITERAL = "pasted-literal-token"


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    """The SDK test server over streamable HTTP on loopback."""
    sys.path.insert(0, str(TEST_SERVER.parent))
    from mcp_test_server import build

    with threaded_uvicorn(build().streamable_http_app()) as url:
        yield f"{url}/mcp"


def agio_cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`agio ARGS` with AGIO_HOME and no secret in its environment."""
    argv = [sys.executable, "-m", "agio_cli", *args]
    return subprocess.run(
        argv, env=clean_env(home, **env), capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, mcp_url: str) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("mcp-secrets")
    spec = workdir / "keeper.yaml"
    spec.write_text(
        f"""
id: keeper
model: offline/demo
model_params: {{delay_ms: 0}}
tools: [local__*, web__*]
mcp_servers:
  local:
    command: {sys.executable}
    args: ["{TEST_SERVER}", "--token=${{MCP_SECRET}}"]
    env: {{MCP_SECRET: "${{MCP_SECRET}}", PASTED: {LITERAL}, DEFAULTED: "${{NOT_SET:-fallback}}"}}
  web:
    url: {mcp_url}
    headers:
      Authorization: "Bearer ${{MCP_SECRET}}"
      X-Pasted: {LITERAL}
"""
    )
    # Defined on the host by a CLI that does not have the secret: nothing is substituted yet.
    created = agio_cli(workdir / "home", "agents", "create", "-f", str(spec), "--json")
    assert created.returncode == 0, created.stderr
    assert SECRET not in created.stdout and LITERAL not in created.stdout
    server = agio_serve(workdir, "agio-serve-secrets", MCP_SECRET=SECRET)
    yield server
    server.stop()


def tool_result(client: httpx.Client, agent: str, tool: str, arguments: dict[str, Any]) -> str:
    events = stream_events(
        client,
        "POST",
        "/api/chat",
        json={"agent_id": agent, "message": f"call {tool} {json.dumps(arguments)}"},
    )
    [done] = [e for e in events if e["type"] == "tool_call_completed"]
    assert not done["is_error"], done
    return str(done["result"])


def test_the_values_reach_the_mcp_servers(served: Server) -> None:
    with httpx.Client(base_url=served.url, timeout=60) as client:
        assert tool_result(client, "keeper", "local__environ", {"name": "MCP_SECRET"}) == SECRET
        assert tool_result(client, "keeper", "local__environ", {"name": "PASTED"}) == LITERAL
        assert tool_result(client, "keeper", "local__environ", {"name": "DEFAULTED"}) == "fallback"
        header = tool_result(client, "keeper", "web__header", {"name": "authorization"})
        assert header == f"Bearer {SECRET}"
        assert tool_result(client, "keeper", "web__header", {"name": "x-pasted"}) == LITERAL


def test_listings_show_references_and_hide_literals(served: Server) -> None:
    expected_local = {
        "args": [str(TEST_SERVER), "--token=${MCP_SECRET}"],
        "env": {
            "MCP_SECRET": "${MCP_SECRET}",
            "PASTED": "***",
            "DEFAULTED": "${NOT_SET:-fallback}",
        },
    }
    expected_web = {"Authorization": "Bearer ${MCP_SECRET}", "X-Pasted": "***"}
    with httpx.Client(base_url=served.url, timeout=30) as client:
        listed = client.get("/api/agents", params={"limit": 100})
        one = client.get("/api/agents/keeper")
        answers = [listed.text, one.text]
        [keeper] = [a for a in listed.json()["items"] if a["id"] == "keeper"]
        assert keeper == one.json()
    embedded = [
        agio_cli(served.home, "agents", "list", "--json"),
        agio_cli(served.home, "agents", "show", "keeper", "--json"),
        agio_cli(served.home, "agents", "show", "keeper"),
    ]
    remote = [
        agio_cli(served.home, "--server", served.url, "agents", "show", "keeper", "--json"),
        agio_cli(served.home, "agents", "list", "--json", AGIO_SERVER_URL=served.url),
    ]
    for done in embedded + remote:
        assert done.returncode == 0, done.stderr
        answers.append(done.stdout)
    for answer in answers:
        assert SECRET not in answer and LITERAL not in answer
    for document in (one.json(), json.loads(embedded[1].stdout), json.loads(remote[0].stdout)):
        local, web = document["mcp_servers"]["local"], document["mcp_servers"]["web"]
        assert {"args": local["args"], "env": local["env"]} == expected_local
        assert web["headers"] == expected_web
    assert "Bearer ${MCP_SECRET}" in embedded[2].stdout  # the YAML `show` prints


def test_a_client_cannot_make_the_server_read_its_environment(served: Server, mcp_url: str) -> None:
    """A reference in the headers of an agent sent over HTTP would send the server's secret
    to a URL the client chose: refused, and a host-defined agent with one cannot be changed
    (its URL pointed elsewhere) over HTTP."""
    reader = {
        "id": "reader",
        "model": "offline/demo",
        "mcp_servers": {"web": {"url": mcp_url, "headers": {"X-Leak": "${MCP_SECRET}"}}},
    }
    with httpx.Client(base_url=served.url, timeout=30) as client:
        refused = client.post("/api/agents", json=reader)
        assert refused.status_code == 422
        assert "MCP headers that read the host's environment (web)" in refused.json()["detail"]
        listed = client.get("/api/agents/keeper").json()["mcp_servers"]["web"]["headers"]
        for headers, refusal in [(listed, "given these tools"), ({}, "changed")]:
            redirected = {"url": "http://attacker.example/mcp", "headers": headers}
            kept = {"id": "keeper", "model": "offline/demo", "mcp_servers": {"web": redirected}}
            changed = client.put("/api/agents/keeper", json=kept)
            assert changed.status_code == 422 and refusal in changed.json()["detail"]
        assert client.get("/api/agents/keeper").json()["mcp_servers"]["web"]["url"] == mcp_url


def test_editing_a_listed_agent_keeps_its_hidden_values(served: Server, mcp_url: str) -> None:
    """GET shows a literal header as `***`; sending the agent back (PUT, or POST ?replace)
    with `***` keeps the stored value, a new value replaces it."""
    agent = {
        "id": "pasted",
        "model": "offline/demo",
        "model_params": {"delay_ms": 0},
        "tools": ["web__header"],
        "mcp_servers": {"web": {"url": mcp_url, "headers": {"X-Api-Key": LITERAL}}},
    }
    with httpx.Client(base_url=served.url, timeout=60) as client:
        created = client.post("/api/agents", json=agent)
        assert created.status_code == 201, created.text
        assert created.json()["mcp_servers"]["web"]["headers"] == {"X-Api-Key": "***"}
        listed = client.get("/api/agents/pasted").json()
        edited = {k: listed[k] for k in agent} | {"description": "edited"}
        assert client.put("/api/agents/pasted", json=edited).status_code == 200
        assert tool_result(client, "pasted", "web__header", {"name": "x-api-key"}) == LITERAL
        replaced = client.post("/api/agents?replace=true", json=edited)
        assert replaced.status_code == 201
        assert tool_result(client, "pasted", "web__header", {"name": "x-api-key"}) == LITERAL
        edited["mcp_servers"]["web"]["headers"] = {"X-Api-Key": "new-one", "X-Other": "***"}
        assert client.put("/api/agents/pasted", json=edited).status_code == 200
        assert tool_result(client, "pasted", "web__header", {"name": "x-api-key"}) == "new-one"
        # `***` for a header that was never stored is just the value it says.
        assert tool_result(client, "pasted", "web__header", {"name": "x-other"}) == "***"
