"""SPEC §8 at the API: agents that can run code on the host are never created or changed
over HTTP (422 saying why); GET /api/tools lists tools; fetch from `agio serve` refuses
loopback addresses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
from helpers.servers import Server


def agent(agent_id: str, **fields: object) -> dict[str, object]:
    return {"id": agent_id, "model": "offline/demo", **fields}


HOST_POWERS = [
    ({"tools": ["shell"]}, "the shell tool"),
    ({"tools": ["os:system"]}, "'module:function' tools"),
    ({"mcp_servers": {"x": {"command": "sh"}}}, "stdio MCP servers (x)"),
    ({"workspace": "/etc"}, "a workspace outside AGIO_HOME"),
    ({"workspace": "../.."}, "a workspace outside AGIO_HOME"),
]


def test_host_powers_cannot_be_given_over_http(client: httpx.Client) -> None:
    client.post("/api/agents", json=agent("plain-api")).raise_for_status()
    for fields, reason in HOST_POWERS:
        created = client.post("/api/agents", json=agent("powerful", **fields))
        assert created.status_code == 422, (fields, created.text)
        detail = created.json()["detail"]
        assert reason in detail and "agio agents create -f" in detail, detail
        changed = client.put("/api/agents/plain-api", json=agent("plain-api", **fields))
        assert changed.status_code == 422, (fields, changed.text)
    assert client.get("/api/agents/powerful").status_code == 404
    # What runs no code on the host is fine over HTTP.
    allowed = agent(
        "fine-api",
        tools=["write_file", "fetch", "web__*"],
        mcp_servers={"web": {"url": "https://mcp.example/mcp"}},
        approval={"write_file": "deny"},
    )
    assert client.post("/api/agents", json=allowed).status_code == 201


def test_host_defined_agents_cannot_be_changed_over_http(
    server: Server, client: httpx.Client, tmp_path: Path
) -> None:
    spec = tmp_path / "sh.yaml"
    spec.write_text("id: host-shell\nmodel: offline/demo\ntools: [shell]\n")
    env = {"AGIO_HOME": str(server.home), "PATH": str(Path(sys.executable).parent)}
    agio = str(Path(sys.executable).with_name("agio"))
    subprocess.run([agio, "agents", "create", "-f", str(spec)], env=env, check=True)
    assert client.get("/api/agents/host-shell").json()["tools"] == ["shell"]  # usable
    tamed = client.put("/api/agents/host-shell", json=agent("host-shell"))
    assert tamed.status_code == 422 and "cannot be changed" in tamed.json()["detail"]
    replaced = client.post("/api/agents?replace=true", json=agent("host-shell"))
    assert replaced.status_code == 422
    tools = client.get("/api/tools", params={"agent_id": "host-shell"}).json()
    assert tools["total"] == 1
    assert tools["items"][0] | {"description": ""} == {
        "name": "shell",
        "source": "builtin",
        "policy": "ask",
        "description": "",
        "error": None,
    }


def test_tools_route(client: httpx.Client) -> None:
    page = client.get("/api/tools").json()
    assert set(page) == {"total", "items", "limit", "offset"}
    assert {t["name"] for t in page["items"]} >= {"shell", "fetch", "write_file", "edit_file"}
    assert client.get("/api/tools", params={"agent_id": "nobody"}).status_code == 404


def test_fetch_from_serve_refuses_loopback(server: Server, client: httpx.Client) -> None:
    client.post(
        "/api/agents", json=agent("fetcher", tools=["fetch"], model_params={"delay_ms": 0})
    ).raise_for_status()
    answer = client.post(
        "/api/chat",
        json={
            "agent_id": "fetcher",
            "message": f'call fetch {{"url": "{server.url}/api/health"}}',
            "stream": False,
        },
    ).json()
    assert "refused under agio serve" in answer["response"], answer


def test_cli_lists_tools_through_the_server(server: Server) -> None:
    agio = str(Path(sys.executable).with_name("agio"))
    listed = subprocess.run(
        [agio, "--server", server.url, "tools", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    page = json.loads(listed.stdout)
    assert {t["name"] for t in page["items"]} >= {"shell", "fetch"}
